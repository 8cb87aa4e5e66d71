#!/usr/bin/env node
// Readiness probe for the local servers started by infra/local/up.
//
//   node infra/local/probe.mjs [--timeout SEC] [--pid PID] redis   redis://127.0.0.1:16379
//   node infra/local/probe.mjs [--timeout SEC] [--pid PID] kafka   127.0.0.1:19092
//   node infra/local/probe.mjs [--timeout SEC] [--pid PID] mongodb mongodb://127.0.0.1:37017/causeway
//   node infra/local/probe.mjs --check            (only verifies the client libraries load)
//
// Every attempt is a real request with the project's client libraries: Redis PING (ioredis),
// Kafka admin listTopics() (kafkajs), MongoDB {ping: 1} (mongodb driver). The libraries are
// resolved from the repository root's node_modules (root devDependencies).
//
// Exit codes: 0 ready, 1 no answer before the deadline, 2 client libraries missing,
// 4 the server process (--pid) exited while we waited, 64 usage.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const requireFromRoot = createRequire(path.join(repoRoot, 'package.json'));

function load(name) {
  try {
    return requireFromRoot(name);
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND') {
      console.error(
        `[probe] cannot load '${name}' from ${path.join(repoRoot, 'node_modules')}: install the workspace first (\`npm start\` or \`npm test\` does, with the pinned pnpm)`,
      );
      process.exit(2);
    }
    throw err;
  }
}

const usage = () => {
  console.error(
    'usage: probe.mjs [--timeout SEC] [--pid PID] <redis|kafka|mongodb> <url> | --check',
  );
  process.exit(64);
};

const args = process.argv.slice(2);
let timeoutSec = 90;
let pid;
let check = false;
const positional = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--timeout') timeoutSec = Number(args[++i]);
  else if (a === '--pid') pid = Number(args[++i]);
  else if (a === '--check') check = true;
  else if (a.startsWith('--')) usage();
  else positional.push(a);
}

if (check) {
  for (const name of ['ioredis', 'kafkajs', 'mongodb']) load(name);
  process.exit(0);
}
if (positional.length !== 2 || !Number.isFinite(timeoutSec)) usage();
const [kind, target] = positional;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A zombie still answers kill(pid, 0); read its state instead.
function processAlive(p) {
  try {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function probeRedis(url) {
  const mod = load('ioredis');
  const Redis = mod.default ?? mod.Redis ?? mod;
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const reply = await client.ping();
    if (reply !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`);
    return 'PING → PONG';
  } finally {
    client.disconnect();
  }
}

async function probeKafka(brokers) {
  const { Kafka, logLevel } = load('kafkajs');
  const kafka = new Kafka({
    clientId: 'causeway-infra-probe',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    return `listTopics → ${topics.length} topic(s)`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function probeMongo(uri) {
  const { MongoClient } = load('mongodb');
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 2000,
    connectTimeoutMS: 2000,
    directConnection: true,
  });
  try {
    await client.connect();
    const reply = await client.db('admin').command({ ping: 1 });
    if (reply.ok !== 1) throw new Error(`unexpected ping reply ${JSON.stringify(reply)}`);
    return 'ping → ok';
  } finally {
    await client.close().catch(() => {});
  }
}

const probes = { redis: probeRedis, kafka: probeKafka, mongodb: probeMongo };
const attempt = probes[kind];
if (!attempt) usage();

// Load the library before the first attempt so a missing install fails fast.
load({ redis: 'ioredis', kafka: 'kafkajs', mongodb: 'mongodb' }[kind]);

const started = Date.now();
const deadline = started + timeoutSec * 1000;
let lastError;
let nextNotice = started + 10_000;
for (;;) {
  if (pid && !processAlive(pid)) {
    console.error(`[probe] ${kind}: server process ${pid} exited before answering`);
    process.exit(4);
  }
  try {
    const what = await withTimeout(attempt(target), 10_000, `${kind} request`);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.error(`[probe] ${kind} at ${target} is ready (${what}, ${secs}s)`);
    process.exit(0);
  } catch (err) {
    lastError = err;
  }
  const now = Date.now();
  if (now >= deadline) break;
  if (now >= nextNotice) {
    console.error(
      `[probe] still waiting for ${kind} at ${target} (${Math.round((now - started) / 1000)}s): ${lastError?.message ?? lastError}`,
    );
    nextNotice = now + 10_000;
  }
  await sleep(Math.min(500, Math.max(0, deadline - now)));
}
console.error(
  `[probe] ${kind} at ${target} did not answer within ${timeoutSec}s: ${lastError?.message ?? lastError}`,
);
process.exit(1);
