import type Redis from 'ioredis';
import { type HealthProbe } from '../health/health-probe.port';

/** What every process on one key prefix must agree on (RedisStreamsLayout's shape). */
export interface StreamsLayout {
  partitions: number;
  priorities: boolean;
}

export interface StreamsLayoutProbeOptions extends StreamsLayout {
  /** The deployment's key prefix (RedisStreamsLayout.keyPrefix). Default ''. */
  keyPrefix?: string;
  /** Appended to the mismatch message, e.g. the settings that choose the layout. */
  hint?: string;
}

/**
 * A health probe (critical: a mismatch makes /health/ready fail) that the processes on one key
 * prefix use the same stream layout. A publisher and a subscriber with different partition
 * counts lose messages silently: what goes to a partition nobody reads waits there for ever
 * while every health check and lag gauge looks fine. The first process to check records its
 * layout in `<keyPrefix>causeway:streams-layout`; the others compare theirs with it. Changing
 * the layout of a deployment: stop the publishers, let the streams drain, delete the key.
 */
export function streamsLayoutProbe(
  client: Redis,
  options: StreamsLayoutProbeOptions,
): HealthProbe & { critical: true } {
  const key = `${options.keyPrefix ?? ''}causeway:streams-layout`;
  const ours = layoutText(options);
  return {
    name: 'streams-layout',
    critical: true,
    async check() {
      const [, [, stored]] = (await client.multi().set(key, ours, 'NX').get(key).exec()) as [
        unknown,
        [unknown, string | null],
      ];
      if (stored !== null && stored !== ours) {
        throw new Error(
          `this process uses ${ours} but the streams of this deployment use ${stored} ` +
            `(Redis key "${key}"): messages sent to a partition nobody reads are never handled.` +
            (options.hint ? ` ${options.hint}` : ''),
        );
      }
    },
  };
}

function layoutText(layout: StreamsLayout): string {
  return `partitions=${layout.partitions} priorities=${layout.priorities}`;
}
