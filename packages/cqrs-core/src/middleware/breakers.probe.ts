import { type HealthProbe } from '../health/health-probe.port';
import { type BreakerRegistry } from './circuit-breaker.middleware';

/** Informational probe: fails while any handler's circuit is open, naming them. */
export function breakersProbe(registry: BreakerRegistry): HealthProbe & { critical: false } {
  return {
    name: 'breakers',
    critical: false,
    check: async () => {
      const open = Object.entries(registry.states()).filter(([, state]) => state !== 'closed');
      if (open.length > 0)
        throw new Error(open.map(([handler, state]) => `${handler}: ${state}`).join(', '));
    },
  };
}
