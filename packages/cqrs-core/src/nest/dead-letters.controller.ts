import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpException,
  Inject,
  Logger,
  Post,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { z } from 'zod';
import {
  DeadLetterCursorError,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type ReplayResult,
} from '../dead-letters/dead-letter-queue.port';
import { CUTOFF_RULE, isCutoff } from '../dead-letters/dead-letter-queue.rules';
import { type Publisher } from '../transport/transport.port';
import { AdminTokenGuard } from './admin-token.guard';
import { credentialsRemoved } from '../connections/connection-target';
import { ProblemDetailsFilter, ProblemException, problemType } from './problem-details.filter';

export const ADMIN_DEAD_LETTERS = Symbol('causeway:admin-dead-letters');
export interface AdminDeadLetters {
  queue: DeadLetterQueue;
  /** Where replays are published. */
  publisher: Publisher;
}

/** `?ids=a` and `?ids=a&ids=b` (and a JSON string or array): one id or several. */
const Ids = z.preprocess(
  (value) => (typeof value === 'string' ? [value] : value),
  z.array(z.string().min(1)).min(1).max(10_000),
);
const LIMIT_RULE = 'must be an integer from 1 to 10000';
/** A count of letters in a JSON body: an integer (`true`, `[5]` or `"5"` refused). */
const Limit = z
  .number({ message: LIMIT_RULE })
  .int(LIMIT_RULE)
  .min(1, LIMIT_RULE)
  .max(10_000, LIMIT_RULE);
/** The same in a query: its decimal digits (`0x10`, `1e3`, ` 5` refused, not read as numbers). */
const QueryLimit = z.preprocess(
  (value) => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value),
  Limit,
);
const Filter = z
  .object({
    topic: z.string().min(1).optional(),
    handler: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    reason: z.string().min(1).optional(),
    errorName: z.string().min(1).optional(),
    deadLetteredBefore: z.string().refine(isCutoff, CUTOFF_RULE).optional(),
    limit: QueryLimit.optional(),
    after: z.string().min(1).max(1_000).optional(),
    ids: Ids.optional(),
  })
  .strict();
const PurgeQuery = Filter.extend({ all: z.enum(['true']).optional() }).strict();
const ReplayBody = Filter.extend({
  all: z.literal(true).optional(),
  limit: Limit.optional(),
}).strict();
/** Stats count the whole queue: no parameter, so that none is taken for a filter. */
const StatsQuery = z.object({}).strict();

/** What the routes read of a request: its target (Express's `originalUrl`, node:http's `url`). */
interface Target {
  originalUrl?: string;
  url?: string;
}

/**
 * The query parameters of a request target, every one (repeated: an array of its values). Not
 * Nest's `@Query()`: Express's parser keeps the first 1 000 and drops the rest without a word, so
 * `ids` past them (a filter takes 10 000) and any parameter after them (`&topic=`, a misspelt
 * one) would be left out: a purge wider than asked, a typo not refused.
 */
function queryOf(request: Target): Record<string, string | string[]> {
  const target = request.originalUrl ?? request.url ?? '';
  const at = target.indexOf('?');
  const query: Record<string, string | string[]> = Object.create(null);
  if (at < 0) return query;
  for (const [name, value] of new URLSearchParams(target.slice(at + 1))) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
}

/** Letters a list answers when the request names no `limit`. */
export const LIST_PAGE = 1_000;

/** The fields that select letters; `limit` and `after` only bound a selection. */
const SELECTING = [
  'topic',
  'handler',
  'type',
  'reason',
  'errorName',
  'deadLetteredBefore',
  'ids',
] as const;

/** Seconds a client should wait before retrying when the store is unavailable. */
const RETRY_AFTER_SECONDS = 5;

interface HeaderSink {
  setHeader?(name: string, value: string): unknown;
}

function parse<S extends z.ZodType>(
  schema: S,
  input: unknown,
  detail = 'invalid dead-letter filter',
  unknown = 'is not a known parameter',
): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw new ProblemException({
    type: problemType('invalid-request'),
    title: 'Bad Request',
    status: 400,
    detail,
    errors: result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ field: key, message: unknown }))
        : [{ field: issue.path.join('.') || '(body)', message: issue.message }],
    ),
  });
}

/** Refuses (400) an operation on every letter that did not say `all`. */
function requireSelection(
  input: z.output<typeof Filter> & { all?: unknown },
  verb: 'purge' | 'replay',
  all: string,
): void {
  if (input.all !== undefined || SELECTING.some((field) => input[field] !== undefined)) return;
  throw new ProblemException({
    type: problemType('invalid-request'),
    title: 'Bad Request',
    status: 400,
    detail: `name a filter (${SELECTING.join(', ')}) or ${all} to ${verb} everything`,
    errors: [
      {
        field: 'all',
        message: `is required when no filter (${SELECTING.join(', ')}) is given; limit alone selects nothing`,
      },
    ],
  });
}

function toFilter(input: z.output<typeof Filter>): DeadLetterFilter {
  return {
    originalTopic: input.topic,
    handler: input.handler,
    type: input.type,
    reason: input.reason,
    errorName: input.errorName,
    deadLetteredBefore: input.deadLetteredBefore,
    limit: input.limit,
    after: input.after,
    ids: input.ids,
  };
}

/** An error's name and message, with the credentials of any URL in it removed. */
function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const redacted = credentialsRemoved(text);
  return redacted.length > 300 ? `${redacted.slice(0, 300)}…` : redacted;
}

/**
 * Operating dead letters over HTTP (issue 4): list with filters, counts, replay, purge. Every
 * route needs the admin token. Filters are `topic`, `handler`, `type`, `reason`, `errorName`,
 * `deadLetteredBefore` (an ISO-8601 date-time: the letters dead-lettered before it) and `ids` (one
 * or several: `?ids=a&ids=b`, or a JSON array); `limit` and `after` (a letter id: only the
 * letters after it) bound them but select nothing by themselves. Stats count the whole queue
 * and take no parameter (400 naming any given). A list answers a page of at
 * most `limit` (default LIST_PAGE) letters, and `next` — the `after` of the next page — when the
 * page is full. A purge or a replay needs a filter or an explicit "everything" (`?all=true` for a
 * purge, `{"all": true}` for a replay), so that a bare request never empties the queue by
 * accident; a replay's body must be `application/json` (415 otherwise), so that a body the app
 * did not parse is never taken for "no filter". A refused request changes nothing. A replay goes
 * on past letters it cannot publish and lists them in `failed`. An error of the dead-letter store
 * is 503 with `Retry-After` (the log has the cause).
 */
@Controller('admin/dead-letters')
@UseGuards(AdminTokenGuard)
@UseFilters(ProblemDetailsFilter)
export class DeadLettersController {
  private readonly logger = new Logger(DeadLettersController.name);

  constructor(@Inject(ADMIN_DEAD_LETTERS) private readonly admin: AdminDeadLetters) {}

  @Get()
  async list(@Req() request: Target, @Res({ passthrough: true }) response: HeaderSink) {
    const filter = toFilter(parse(Filter, queryOf(request)));
    const limit = filter.limit ?? LIST_PAGE;
    const letters = await this.store('list', response, () =>
      this.admin.queue.list({ ...filter, limit }),
    );
    const next = letters.length === limit ? letters[letters.length - 1]!.id : undefined;
    return { count: letters.length, letters, ...(next !== undefined && { next }) };
  }

  /**
   * Counts of the whole queue. It takes no parameter: a `?topic=x` is a 400 naming it, rather
   * than whole-queue figures an operator would read as topic x's (list with the filter instead).
   */
  @Get('stats')
  stats(@Req() request: Target, @Res({ passthrough: true }) response: HeaderSink) {
    parse(
      StatsQuery,
      queryOf(request),
      'stats counts every dead letter and takes no parameter; list with a filter to see a selection',
      'is not a parameter of stats (it takes none)',
    );
    return this.store('stats', response, () => this.admin.queue.stats());
  }

  @Post('replay')
  @HttpCode(200)
  async replay(
    @Headers('content-type') contentType: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) response: HeaderSink,
  ): Promise<ReplayResult> {
    const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      throw new ProblemException({
        type: problemType('unsupported-media-type'),
        title: 'Unsupported Media Type',
        status: 415,
        detail:
          'send the replay as a JSON body with Content-Type: application/json, ' +
          'e.g. {"topic": "events.X"}, {"ids": ["…"]} or {"all": true}',
      });
    }
    const input = parse(ReplayBody, body);
    requireSelection(input, 'replay', '"all": true');
    const { all: _all, ...rest } = input;
    const result = await this.store('replay', response, () =>
      this.admin.queue.replay(toFilter(rest), this.admin.publisher),
    );
    if (result.failures > 0) {
      const shown = result.failed.slice(0, 10).map(({ id, reason }) => `${id} (${reason})`);
      const more = result.failures - shown.length;
      this.logger.warn(
        `replay left ${result.failures} dead letter(s) it could not publish: ` +
          `${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
      );
    }
    if (result.stopped) this.logger.warn(`replay stopped early: ${result.stopped}`);
    return result;
  }

  @Delete()
  async purge(@Req() request: Target, @Res({ passthrough: true }) response: HeaderSink) {
    const input = parse(PurgeQuery, queryOf(request));
    requireSelection(input, 'purge', 'all=true');
    const { all: _all, ...rest } = input;
    return {
      purged: await this.store('purge', response, () => this.admin.queue.purge(toFilter(rest))),
    };
  }

  /**
   * Runs a call of the queue: its errors mean the store failed (down, timed out, refused) —
   * the request was valid — so they are 503 with `Retry-After`, logged with their cause.
   */
  private async store<T>(
    operation: string,
    response: HeaderSink,
    call: () => Promise<T>,
  ): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof HttpException) throw error;
      if (error instanceof DeadLetterCursorError)
        throw new ProblemException({
          type: problemType('invalid-request'),
          title: 'Bad Request',
          status: 400,
          detail: 'invalid dead-letter filter',
          errors: [{ field: 'after', message: error.message }],
        });
      const reason = describeError(error);
      this.logger.error(
        `dead-letter ${operation} failed: ${reason}`,
        // The stack begins with the message: redacted alike.
        error instanceof Error && error.stack !== undefined
          ? credentialsRemoved(error.stack)
          : undefined,
      );
      response.setHeader?.('Retry-After', String(RETRY_AFTER_SECONDS));
      throw new ProblemException({
        type: problemType('dead-letters-unavailable'),
        title: 'Service Unavailable',
        status: 503,
        detail: `the dead-letter store is unavailable: ${reason}`,
      });
    }
  }
}
