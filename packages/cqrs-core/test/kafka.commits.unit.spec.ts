import { type EachBatchPayload } from 'kafkajs';
import { BatchCommits } from '../src/kafka/kafka.commits';

interface Sent {
  offset: string;
  metadata: string | null;
}

/** A batch payload whose commits wait until the test releases them, one by one. */
function fakeBatch(fail?: () => Error | undefined) {
  const sent: Sent[] = [];
  const waiting: (() => void)[] = [];
  const payload = {
    batch: { topic: 't', partition: 0 },
    commitOffsetsIfNecessary: (offsets: {
      topics: { partitions: { offset: string; metadata: string | null }[] }[];
    }) => {
      const { offset, metadata } = offsets.topics[0]!.partitions[0]!;
      sent.push({ offset, metadata });
      return new Promise<void>((resolve, reject) => {
        waiting.push(() => {
          const error = fail?.();
          if (error) reject(error);
          else resolve();
        });
      });
    },
  } as unknown as EachBatchPayload;
  // Resolves the oldest commit, then waits for the next one to be sent — or, when none comes,
  // long enough to be sure (a fixed 5 ms was not enough on a loaded machine).
  const release = async () => {
    const before = sent.length;
    waiting.shift()?.();
    const deadline = Date.now() + 300;
    while (sent.length === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return { payload, sent, waiting, release };
}

describe('kafka batch commits', () => {
  it('sends at once, keeps one commit in flight and coalesces what comes meanwhile', async () => {
    const { payload, sent, release } = fakeBatch();
    const commits = new BatchCommits(payload, 0);
    commits.mark('10', 1);
    commits.mark('11', 1);
    commits.mark('12', 2);
    expect(sent).toEqual([{ offset: '10', metadata: 'causeway:attempt=1' }]);
    await release();
    expect(sent.slice(1)).toEqual([{ offset: '12', metadata: 'causeway:attempt=2' }]);
    commits.mark('13', 0);
    const flushed = commits.flush();
    await release();
    await release();
    await flushed;
    expect(sent.map((s) => s.offset)).toEqual(['10', '12', '13']);
    expect(sent[2]!.metadata).toBeNull();
  });

  it('pauses between commits while messages keep coming; flush cuts the pause short', async () => {
    const { payload, sent, release } = fakeBatch();
    const commits = new BatchCommits(payload, 60_000);
    commits.mark('1', 1);
    commits.mark('2', 1);
    await release();
    commits.mark('3', 1);
    expect(sent.map((s) => s.offset)).toEqual(['1']); // '3' waits for the pause, with '2' folded in
    const flushed = commits.flush();
    await release();
    await release();
    await flushed;
    expect(sent.map((s) => s.offset)).toEqual(['1', '3']);
  });

  it('flush resolves at once when everything is committed, and sends what is left', async () => {
    const { payload, sent, release } = fakeBatch();
    const commits = new BatchCommits(payload, 0);
    await commits.flush();
    expect(sent).toEqual([]);
    commits.mark('5', 1);
    const flushed = commits.flush();
    await release();
    await flushed;
    expect(sent).toHaveLength(1);
  });

  it('sends nothing more once abandoned (kill)', async () => {
    const { payload, sent, release } = fakeBatch();
    const commits = new BatchCommits(payload, 0);
    commits.mark('1', 1);
    commits.mark('2', 1);
    commits.abandon();
    await release();
    commits.mark('3', 1);
    await commits.flush();
    expect(sent.map((s) => s.offset)).toEqual(['1']);
  });

  it('reports a commit that is not retriable and stops sending', async () => {
    const refused = Object.assign(new Error('stale generation'), { retriable: false });
    const { payload, sent, release } = fakeBatch(() => refused);
    const commits = new BatchCommits(payload, 0);
    commits.mark('1', 1);
    commits.mark('2', 1);
    await release();
    expect(commits.failed).toBe(true);
    await expect(commits.flush()).rejects.toBe(refused);
    expect(sent).toHaveLength(1);
  });
});
