/** Injection tokens of the Causeway service module. */
export const SERVICE_OPTIONS = Symbol('causeway:service-options');
export const METRICS_REGISTRY = Symbol('causeway:metrics-registry');
export const HEALTH_PROBES = Symbol('causeway:health-probes');
