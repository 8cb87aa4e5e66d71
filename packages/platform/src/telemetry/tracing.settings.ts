import { ConfigurationError } from '@causeway/cqrs-core';

/**
 * Where spans go, from OpenTelemetry's own environment variables (the names every OpenTelemetry
 * SDK reads): tracing is on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
 * is set and OTEL_TRACES_EXPORTER / OTEL_SDK_DISABLED do not turn it off. The exporter reads
 * the rest itself (OTEL_EXPORTER_OTLP_HEADERS, …_TIMEOUT), the SDK OTEL_TRACES_SAMPLER (checked
 * here) and OTEL_RESOURCE_ATTRIBUTES. Only OTLP over HTTP with JSON is supported.
 */
export interface TracingSettings {
  /** OTLP/HTTP (JSON) traces endpoint, e.g. `http://collector:4318/v1/traces`. */
  url: string;
  serviceName: string;
}

/** The tracing settings, undefined when tracing is off; a ConfigurationError names a bad one. */
export function tracingSettings(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter && exporter !== 'otlp')
    throw new ConfigurationError([
      {
        setting: 'OTEL_TRACES_EXPORTER',
        problem: `only "otlp" (OTLP over HTTP, JSON) or "none" are supported, got ${JSON.stringify(env.OTEL_TRACES_EXPORTER)}`,
      },
    ]);
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const setting = traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const value = traces || base;
  if (!value) return undefined;
  const bad = (problem: string) => new ConfigurationError([{ setting, problem }]);
  // The value is never echoed: an endpoint may carry credentials (user:password@host).
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw bad('expected an http(s) URL such as http://collector:4318, got one that does not parse');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw bad(
      `expected an http(s) URL, got one with the scheme ${JSON.stringify(parsed.protocol)}`,
    );
  // The signal's path goes after the base endpoint's path, before its query (OpenTelemetry's rule).
  if (!traces) parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/v1/traces`;
  const url = parsed.toString();
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = env[name]?.trim();
    if (protocol && protocol !== 'http/json')
      throw new ConfigurationError([
        {
          setting: name,
          problem: `only "http/json" (OTLP over HTTP, JSON) is supported, got ${JSON.stringify(env[name])}`,
        },
      ]);
  }
  checkSampler(env);
  return { url, serviceName: env.OTEL_SERVICE_NAME?.trim() || service };
}

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/** OTEL_TRACES_SAMPLER and its ratio, checked: the SDK would quietly sample everything instead. */
function checkSampler(env: NodeJS.ProcessEnv): void {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim();
  if (!sampler) return;
  if (!SAMPLERS.includes(sampler))
    throw new ConfigurationError([
      {
        setting: 'OTEL_TRACES_SAMPLER',
        problem: `expected one of ${SAMPLERS.join(', ')}, got ${JSON.stringify(env.OTEL_TRACES_SAMPLER)}`,
      },
    ]);
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (sampler.endsWith('traceidratio') && arg) {
    const ratio = Number(arg);
    if (!(ratio >= 0 && ratio <= 1))
      throw new ConfigurationError([
        {
          setting: 'OTEL_TRACES_SAMPLER_ARG',
          problem: `expected a ratio from 0 to 1, got ${JSON.stringify(env.OTEL_TRACES_SAMPLER_ARG)}`,
        },
      ]);
  }
}

/** The endpoint as it can be logged: no credentials, no query. */
export function loggableUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
