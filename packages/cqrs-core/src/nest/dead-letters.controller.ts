import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Post,
  Query,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { z } from 'zod';
import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { type Publisher } from '../transport/transport.port';
import { AdminTokenGuard } from './admin-token.guard';
import { ProblemDetailsFilter, ProblemException } from './problem-details.filter';

export const ADMIN_DEAD_LETTERS = Symbol('causeway:admin-dead-letters');
export interface AdminDeadLetters {
  queue: DeadLetterQueue;
  /** Where replays are published. */
  publisher: Publisher;
}

const Filter = z
  .object({
    topic: z.string().min(1).optional(),
    handler: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    reason: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
    ids: z.array(z.string().min(1)).min(1).max(10_000).optional(),
  })
  .strict();
const PurgeQuery = Filter.extend({ all: z.enum(['true']).optional() }).strict();

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw new ProblemException({
    title: 'Bad Request',
    status: 400,
    detail: 'invalid dead-letter filter',
    errors: result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ field: key, problem: 'is not a known parameter' }))
        : [{ field: issue.path.join('.') || '(body)', problem: issue.message }],
    ),
  });
}

function toFilter(input: z.output<typeof Filter>) {
  return {
    originalTopic: input.topic,
    handler: input.handler,
    type: input.type,
    reason: input.reason,
    limit: input.limit,
    ids: input.ids,
  };
}

/**
 * Operating dead letters over HTTP (issue 4): list with filters, counts, replay, purge. Every
 * route needs the admin token. A purge needs a filter or `all=true`, so that a bare DELETE
 * never empties the queue by accident.
 */
@Controller('admin/dead-letters')
@UseGuards(AdminTokenGuard)
@UseFilters(ProblemDetailsFilter)
export class DeadLettersController {
  constructor(@Inject(ADMIN_DEAD_LETTERS) private readonly admin: AdminDeadLetters) {}

  @Get()
  async list(@Query() query: Record<string, unknown>) {
    const letters = await this.admin.queue.list(toFilter(parse(Filter, query)));
    return { count: letters.length, letters };
  }

  @Get('stats')
  stats() {
    return this.admin.queue.stats();
  }

  @Post('replay')
  @HttpCode(200)
  replay(@Body() body: unknown) {
    const filter = toFilter(parse(Filter, body));
    return this.admin.queue.replay(filter, this.admin.publisher);
  }

  @Delete()
  async purge(@Query() query: Record<string, unknown>) {
    const input = parse(PurgeQuery, query);
    const { all, ...rest } = input;
    if (!all && Object.values(rest).every((value) => value === undefined)) {
      throw new ProblemException({
        title: 'Bad Request',
        status: 400,
        detail: 'name a filter (topic, handler, type, reason) or all=true to purge everything',
      });
    }
    return { purged: await this.admin.queue.purge(toFilter(rest)) };
  }
}
