import { type Context, propagation, type TextMapGetter } from '@opentelemetry/api';
import { type Envelope, type Metadata } from '../messages/envelope';

/** Reads propagation fields (`traceparent`, `tracestate`, `baggage`) from message metadata. */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata),
  get: (metadata, key) => {
    const value = metadata[key];
    return typeof value === 'string' ? value : undefined;
  },
};

/** The context a message carries (its producer's span), on top of `base`. */
export function contextOf(envelope: Envelope, base: Context): Context {
  return propagation.extract(base, envelope.metadata, metadataGetter);
}

/**
 * The envelope with `ctx` injected into its metadata by the global propagator (W3C Trace
 * Context by default in the SDKs); the same envelope when the propagator writes nothing (no
 * SDK registered: the metadata keeps whatever trace it had).
 */
export function withContext<E extends Envelope>(envelope: E, ctx: Context): E {
  const fields: Record<string, string> = {};
  propagation.inject(ctx, fields);
  if (Object.keys(fields).length === 0) return envelope;
  return { ...envelope, metadata: { ...envelope.metadata, ...fields } };
}
