import { EventEmitter } from 'node:events';
import { type SseSink } from '../sse/sse.connection';

export interface ParsedFrame {
  id?: string;
  /** The `event:` line's name (none: a `message`). */
  event?: string;
  retry?: number;
  method?: string;
  params?: Record<string, unknown>;
  comment?: boolean;
  /** The `data:` line's JSON when it is no JSON-RPC notification (a progress stream's events). */
  data?: unknown;
}

/**
 * A socket stand-in for hub unit tests: records what the hub writes and can stop "draining"
 * (everything written then counts as unwritten bytes, like a client that stopped reading).
 */
export class TestSink extends EventEmitter implements SseSink {
  private text = '';
  stalled = false;
  private stalledBytes = 0;
  ended = false;
  destroyed = false;
  /** write() calls so far. */
  writes = 0;
  /** Thrown by the next write() (then cleared): a sink that refuses a write. */
  failNextWrite: Error | undefined;
  /** Thrown by the next destroy() (then cleared), before it destroys anything. */
  failNextDestroy: Error | undefined;

  get writableLength(): number {
    return this.stalledBytes;
  }

  write(chunk: Buffer): boolean {
    const failure = this.failNextWrite;
    this.failNextWrite = undefined;
    if (failure) throw failure;
    if (this.ended || this.destroyed) return false;
    this.writes += 1;
    if (this.stalled) this.stalledBytes += chunk.length;
    else this.text += chunk.toString();
    return !this.stalled;
  }

  end(): void {
    this.ended = true;
    this.emit('close');
  }

  destroy(): void {
    const failure = this.failNextDestroy;
    this.failNextDestroy = undefined;
    if (failure) throw failure;
    this.destroyed = true;
    this.emit('close');
  }

  /** The client goes away. */
  hangUp(): void {
    this.emit('close');
  }

  frames(): ParsedFrame[] {
    return this.text
      .split('\n\n')
      .filter((block) => block.length > 0)
      .map((block) => {
        const frame: ParsedFrame = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) frame.comment = true;
          else if (line.startsWith('id: ')) frame.id = line.slice(4);
          else if (line.startsWith('event: ')) frame.event = line.slice(7);
          else if (line.startsWith('retry: ')) frame.retry = Number(line.slice(7));
          else if (line.startsWith('data: ')) {
            const data = JSON.parse(line.slice(6)) as {
              method: string;
              params: Record<string, unknown>;
            };
            if ((data as { jsonrpc?: unknown }).jsonrpc !== '2.0') frame.data = data;
            else {
              frame.method = data.method;
              frame.params = data.params;
            }
          }
        }
        return frame;
      });
  }

  notifications(method?: string): ParsedFrame[] {
    return this.frames().filter((frame) => frame.method && (!method || frame.method === method));
  }
}
