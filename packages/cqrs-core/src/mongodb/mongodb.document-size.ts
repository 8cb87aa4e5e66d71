import { mongo } from 'mongoose';

/**
 * MongoDB's largest document (`hello.maxBsonObjectSize`). MongoDB refuses a larger insert or
 * upsert (codes 2, 17419, 17420); FerretDB 1.24 stores it. The stores check it themselves, so
 * that both servers refuse alike, before anything is written.
 */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * The BSON size of `document` when it is over `maxBytes`, else undefined. `boundBytes` is an
 * upper bound of that size the caller can tell cheaply (e.g. 3 bytes per UTF-16 unit of its
 * strings, plus room for the rest): only a document whose bound is over the limit is measured.
 */
export function sizeOver(
  document: object,
  boundBytes: number,
  maxBytes = MAX_DOCUMENT_BYTES,
): number | undefined {
  if (boundBytes <= maxBytes) return undefined;
  const size = mongo.BSON.calculateObjectSize(document as mongo.Document);
  return size > maxBytes ? size : undefined;
}
