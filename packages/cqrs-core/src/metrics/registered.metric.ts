import {
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Registry,
} from 'prom-client';

/**
 * The counter named `config.name` in `registry`: the one registered there already (another
 * module or instance of the same app made it; a registry holds one metric per name), else a new
 * one registered there. Whoever asks for a name gets one set of series, so every asker must give
 * it the same labels. A metric of that name of another kind is a mistake: an error naming it.
 */
export function registeredCounter<T extends string = string>(
  registry: Registry,
  config: Omit<CounterConfiguration<T>, 'registers'>,
): Counter<T> {
  return registered(
    registry,
    config.name,
    Counter,
    () => new Counter({ ...config, registers: [registry] }),
  );
}

/** The gauge named `config.name` in `registry`, as registeredCounter. */
export function registeredGauge<T extends string = string>(
  registry: Registry,
  config: Omit<GaugeConfiguration<T>, 'registers'>,
): Gauge<T> {
  return registered(
    registry,
    config.name,
    Gauge,
    () => new Gauge({ ...config, registers: [registry] }),
  );
}

/** The histogram named `config.name` in `registry`, as registeredCounter (its buckets are the first asker's). */
export function registeredHistogram<T extends string = string>(
  registry: Registry,
  config: Omit<HistogramConfiguration<T>, 'registers'>,
): Histogram<T> {
  return registered(
    registry,
    config.name,
    Histogram,
    () => new Histogram({ ...config, registers: [registry] }),
  );
}

function registered<M>(
  registry: Registry,
  name: string,
  kind: abstract new (...args: never[]) => M,
  create: () => M,
): M {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (!(existing instanceof kind))
    throw new Error(`metric ${name} is registered already, as another kind than ${kind.name}`);
  return existing;
}
