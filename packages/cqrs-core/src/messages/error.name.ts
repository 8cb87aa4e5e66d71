/**
 * The name an error goes by wherever it is reported — the sender's `CommandRejectedError`
 * (`remoteName`), a dead letter's `errorName`: its `name`, or, for a subclass that kept the
 * inherited `name` 'Error' (`class MyErr extends Error {}`), its class's name. 'Error' when
 * neither says more (a plain Error, an object literal); a thrown primitive by its wrapper
 * ('String', 'Number').
 */
export function errorNameOf(error: unknown): string {
  const name = (error as Error | null | undefined)?.name;
  if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
  const type = (error as object | null | undefined)?.constructor?.name;
  return type && type !== 'Object' ? type : 'Error';
}
