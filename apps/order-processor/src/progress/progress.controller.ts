import { Controller, Get, Inject, Logger, Param, Query, Req } from '@nestjs/common';
import { credentialsRemoved } from '@causeway/cqrs-core';
import { ProblemException, problemType } from '@causeway/cqrs-core/nest';
import { type ProgressStatus, TaskId } from '@causeway/contracts';
import { pathParameter } from '@causeway/platform';
import { OrderConsumer } from '../orders/order.consumer';
import { type OrderMetrics } from '../orders/order.metrics';
import { ProgressAuth, type ProgressRequest } from './progress.auth';
import { type ProgressReads } from './progress.reads';
import { userTasksCursor, userTasksPageOf, userTasksPoints } from './user-tasks.page';

export const PROGRESS_READS = Symbol('order-processor:progress-reads');

/** What the controller reads from. */
export interface ProgressReadsDeps {
  reads: ProgressReads;
  metrics: OrderMetrics;
  instanceId: string;
  topic: string;
  /** Resolves once the stores can be used (the module's `ready`); rejects while they cannot. */
  ready: () => Promise<void>;
  /** Orders this instance is running now (OrderProcessor.runningOrders). */
  running: () => number;
}

/** How long a read waits for the stores after start-up before it answers 503. */
export const READY_WAIT_MS = 3_000;

/**
 * The 503 of a read before the stores can be used. Why they cannot is not told: a store's error
 * names hosts, databases and commands, the operators' to see (readiness reports it, with
 * `ready`'s rejection), not every caller's, as the gateway's `read-unavailable` tells none.
 */
function notReady(): ProblemException {
  return new ProblemException(
    {
      type: problemType('not-ready'),
      title: 'Service Unavailable',
      status: 503,
      detail:
        'the progress store cannot be read yet (the instance is starting, or its database is unreachable); retry after Retry-After',
    },
    { headers: { 'Retry-After': '1' } },
  );
}

function unknownTask(taskId: string): ProblemException {
  return new ProblemException({
    type: problemType('not-found'),
    title: 'Not Found',
    status: 404,
    detail: `no task ${taskId} of yours`,
  });
}

/**
 * S3-6 reads under /api/v2/progress, each for the bearer token's user: another user's task is
 * 404 as an unknown one (its existence is not told), another user's list 403, a `{taskId}` that
 * is no task id (contracts' TaskId: a NUL, over 128 characters) 400 naming `taskId`, and a page
 * of `/user` whose query is wrong (userTasksPageOf) 400 naming each parameter, before the
 * credential is looked at and without costing a point of the caller's rate (as the gateway's
 * progress streams answer it).
 */
@Controller('api/v2/progress')
export class ProgressController {
  private readonly logger = new Logger('ProgressController');

  constructor(
    private readonly auth: ProgressAuth,
    private readonly consumer: OrderConsumer,
    @Inject(PROGRESS_READS) private readonly deps: ProgressReadsDeps,
  ) {}

  @Get('status/:taskId')
  async status(
    @Param('taskId') taskId: string,
    @Req() request: ProgressRequest,
  ): Promise<ProgressStatus> {
    // Before the credential and the rate (see the class): charged first, a page retrying a
    // mistyped task URL used up its user's RATE_LIMIT_POINTS (429 for the rest of the window).
    pathParameter(TaskId, 'taskId', taskId);
    const caller = await this.auth.caller(request);
    const status = await this.reading(() => this.deps.reads.status(taskId, caller.userId));
    if (!status) throw unknownTask(taskId);
    return status;
  }

  @Get('history/:taskId')
  async history(@Param('taskId') taskId: string, @Req() request: ProgressRequest) {
    pathParameter(TaskId, 'taskId', taskId);
    const caller = await this.auth.caller(request);
    const events = await this.reading(() => this.deps.reads.history(taskId, caller.userId));
    if (!events) throw unknownTask(taskId);
    return { taskId, events };
  }

  /**
   * A page of the caller's tasks (`?limit=`, `?before=`), with `next`: the URL of the following
   * page, while there may be more. A point of the caller's rate per 20 tasks listed.
   */
  @Get('user/:userId')
  async user(
    @Param('userId') userId: string,
    @Query() query: Record<string, unknown>,
    @Req() request: ProgressRequest,
  ) {
    // Before the credential and the rate, as a malformed {taskId}: charged first, a page
    // retrying `?limit=0` or a typo used up its user's RATE_LIMIT_POINTS in as many tries.
    const page = userTasksPageOf(query);
    const caller = await this.auth.caller(request);
    if (userId !== caller.userId)
      throw new ProblemException({
        type: problemType('forbidden-user'),
        title: 'Forbidden',
        status: 403,
        detail: 'only your own tasks can be read: use your user id',
      });
    const { tasks, next } = await this.reading(() => this.deps.reads.ofUser(userId, page));
    // A stream read and a fold per task: the request's point paid for the first 20.
    await this.auth.chargeAfter(caller, userTasksPoints(tasks.length) - 1);
    const path = `/api/v2/progress/user/${encodeURIComponent(userId)}`;
    return {
      userId,
      tasks,
      ...(next && { next: `${path}?limit=${page.limit}&before=${userTasksCursor(next)}` }),
    };
  }

  /**
   * The system's state as this instance sees it: the orders it is running now, events stored by
   * type and orders finished since it started (Prometheus has every instance's), and the order
   * group's lag (Kafka's, shared). `running` was STARTED − COMPLETED − FAILED as counted here,
   * which an order started elsewhere (before a restart, on a partition's previous owner) and
   * finished here took below the truth: 0 while this instance ran an order.
   */
  @Get('monitor')
  async monitor(@Req() request: ProgressRequest) {
    await this.auth.caller(request);
    const stored = await this.deps.metrics.byType();
    const consumer = this.consumer;
    return {
      instanceId: this.deps.instanceId,
      topic: this.deps.topic,
      consumerGroup: consumer.group,
      ordersConsumed: await this.deps.metrics.consumedCount(),
      ordersCompleted: stored.COMPLETED,
      ordersFailed: stored.FAILED,
      tasksByStatus: {
        running: this.deps.running(),
        completed: stored.COMPLETED,
        failed: stored.FAILED,
      },
      eventsStored: stored,
      consumerLag: (await consumer.lag()) ?? null,
    };
  }

  /**
   * `read()` once the stores can be used (`readable`). A store failing after the start (MongoDB
   * or Redis unreachable, restarting) is the same 503 `not-ready` with Retry-After, its error
   * logged for the operators: it was a bare 500, which /docs-json never listed.
   */
  private async reading<T>(read: () => Promise<T>): Promise<T> {
    await this.readable();
    try {
      return await read();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(`progress read failed: ${credentialsRemoved(message)}`);
      throw notReady();
    }
  }

  /**
   * Waits (READY_WAIT_MS at most) until the stores can be used: the app answers HTTP as soon as
   * it listens, before MongoDB is open and the event store initialised, and a read then would
   * fail as a 500. Not ready in time: 503 `not-ready` with Retry-After (not saying why: see notReady).
   */
  private async readable(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.deps.ready(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('still starting')), READY_WAIT_MS);
        }),
      ]);
    } catch {
      throw notReady();
    } finally {
      clearTimeout(timer);
    }
  }
}
