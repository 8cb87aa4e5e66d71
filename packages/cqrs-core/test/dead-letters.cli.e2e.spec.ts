import 'reflect-metadata';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { InMemoryDeadLetterQueue, InMemoryBroker, SerializerRegistry } from '../src';
import { DeadLettersAdminModule } from '../src/nest';
import { testEnvelope } from '../src/testing';

// The built CLI (bin/causeway-dead-letters.cjs → dist/) as an operator runs it, its output
// into a pipe: `causeway-dead-letters list | jq …`.
const bin = path.resolve(__dirname, '..', 'bin', 'causeway-dead-letters.cjs');
const TOKEN = 'cli-e2e-admin-token-0123456789';

describe('the causeway-dead-letters command, its output piped', () => {
  let app: INestApplication;
  let url: string;
  const queue = new InMemoryDeadLetterQueue();

  beforeAll(async () => {
    const broker = new InMemoryBroker({
      serializer: new SerializerRegistry().register('Moved', z.object({ x: z.number() })),
    });
    const moduleRef = await Test.createTestingModule({
      imports: [DeadLettersAdminModule.forRoot({ token: TOKEN, queue, publisher: broker })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    // 1 000 letters with their stacks: over a megabyte of JSON.
    for (let x = 0; x < 1_000; x++)
      await queue.add({
        envelope: testEnvelope('Moved', { x }),
        originalTopic: 'events.Moved',
        position: `${x}-0`,
        group: 'g',
        handler: 'h',
        reason: 'boom',
        errorName: 'Error',
        stack: `Error: boom\n${'    at somewhere (/app/dist/handler.js:1:1)\n'.repeat(30)}`,
        attempts: 3,
        deadLetteredAt: new Date().toISOString(),
      });
  });
  afterAll(() => app.close());

  it('writes the whole list before it exits', async () => {
    // A review (session 35): it exited right after its write, cutting piped output at 64 KiB.
    const child = spawn(process.execPath, [bin, 'list', '--url', url], {
      env: { ...process.env, CAUSEWAY_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const output = Buffer.concat(chunks).toString('utf8');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(output.length).toBeGreaterThan(1_000_000);
    const listed = JSON.parse(output) as { letters: { envelope: { data: { x: number } } }[] };
    expect(listed.letters).toHaveLength(1_000);
  }, 60_000);
});
