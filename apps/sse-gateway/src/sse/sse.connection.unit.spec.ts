import { TestSink } from '../testing/sse.test-sink';
import { SseConnection } from './sse.connection';

/** A stream opened with `maxBytes` (BUFFER_MAX_BYTES) that is still replaying (queueing). */
function replaying(maxBytes: number): SseConnection {
  const connection = new SseConnection('c-1', 'ash', Date.now(), new TestSink(), maxBytes);
  connection.pending = [];
  return connection;
}

describe('SseConnection', () => {
  describe('frames queued while a replay is written', () => {
    // 1 character, 3 bytes in UTF-8: names, chat, anything not ASCII.
    const euro = '€';

    it('counts their bytes against BUFFER_MAX_BYTES, not their characters', () => {
      const connection = replaying(1_000);
      // 408 characters (within the bound), 1 208 bytes (beyond it).
      expect(connection.send(`data: ${euro.repeat(400)}\n\n`, '1-0')).toBe(false);
    });

    it('holds up to BUFFER_MAX_BYTES of them, multi-byte or not', () => {
      const connection = replaying(1_000);
      const frame = `data: ${euro.repeat(10)}\n\n`; // 38 bytes
      let queued = 0;
      while (connection.send(frame, `${queued}-0`)) queued += 1;
      // 26 frames (988 bytes) fit; the 27th goes beyond (1 026 bytes).
      expect(queued).toBe(26);
    });
  });

  // end() marked the stream closed before its write: a write that threw left the socket neither
  // ended nor destroyed, and every later end() or write() a no-op (session 49).
  describe('an end whose last frame cannot be written', () => {
    it('destroys the socket and throws the write error', () => {
      const sink = new TestSink();
      const connection = new SseConnection('c-1', 'ash', Date.now(), sink, 1_000);
      sink.failNextWrite = new Error('write refused');
      expect(() => connection.end('retry: 1000\n\n')).toThrow('write refused');
      // Its client reconnects, from the last id it read.
      expect(sink.destroyed).toBe(true);
      expect(connection.closed).toBe(true);
    });

    it('throws the write error even when the destroy throws too', () => {
      const sink = new TestSink();
      const connection = new SseConnection('c-1', 'ash', Date.now(), sink, 1_000);
      sink.failNextWrite = new Error('write refused');
      sink.failNextDestroy = new Error('destroy refused');
      expect(() => connection.end('retry: 1000\n\n')).toThrow('write refused');
    });
  });
});
