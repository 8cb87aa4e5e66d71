// OpenTelemetry tracing for @causeway/cqrs-core (S1-10); needs @opentelemetry/api.
export * from './tracing.middleware';
export * from './traced.publisher';
export { metadataGetter } from './metadata.carrier';
export { TRACER_NAME } from './tracing.attributes';
export * from './traced.request';
