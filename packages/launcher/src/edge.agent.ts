import http from 'node:http';
import { type Duplex } from 'node:stream';

type WriteCallback = (error?: Error | null) => void;

/** Sockets whose backend stopped taking the request body: never reused. */
const bodyDropped = new WeakSet<Duplex>();

/**
 * The edge's connections to the apps: kept alive like Node's global agent's, except that a
 * failed write of a request body does not end the connection.
 *
 * A backend may answer before it has read the whole body (413, 401, …) and close its end, even
 * reset it; the edge's next write then fails (EPIPE, ECONNRESET) while the answer is already on
 * the wire. Node destroys a socket on a failed write, and the answer, read or not, is lost:
 * the client would get 502 and send the body again. Here a failed write only drops the rest of
 * the body; the socket goes on reading, so the answer reaches the client, and a backend that
 * closed without answering still fails the request (by its end or reset). Such a socket is
 * never reused.
 */
export class EdgeAgent extends http.Agent {
  constructor() {
    super({ keepAlive: true, scheduling: 'lifo', timeout: 5_000 }); // Node's global agent
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = super.createConnection(options, callback);
    if (socket) dropBodyAfterFailedWrite(socket);
    return socket;
  }

  override keepSocketAlive(socket: Duplex): boolean {
    return !bodyDropped.has(socket) && (super.keepSocketAlive(socket) as unknown as boolean);
  }
}

function dropBodyAfterFailedWrite(socket: Duplex): void {
  const writeOne = socket._write.bind(socket);
  const writeMany = socket._writev?.bind(socket);
  const settle = (callback: WriteCallback) => (error?: Error | null) => {
    if (error) bodyDropped.add(socket);
    callback();
  };
  socket._write = (chunk: unknown, encoding: BufferEncoding, callback: WriteCallback) => {
    if (bodyDropped.has(socket)) return callback();
    writeOne(chunk, encoding, settle(callback));
  };
  if (writeMany)
    socket._writev = (
      chunks: { chunk: unknown; encoding: BufferEncoding }[],
      callback: WriteCallback,
    ) => {
      if (bodyDropped.has(socket)) return callback();
      writeMany(chunks, settle(callback));
    };
}
