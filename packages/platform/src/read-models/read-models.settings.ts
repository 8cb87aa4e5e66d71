import { z } from 'zod';

/** Settings of the apps that write or read the read models (projection-worker, sse-gateway). */
export const readModelSettings = {
  /**
   * Where the read models live (positions, group members); keep equal in projection-worker and
   * sse-gateway.
   */
  READ_MODEL_STORE: z
    .enum(['redis', 'mongodb'], { message: 'must be redis or mongodb' })
    .default('redis'),
};

export type ReadModelStore = z.output<typeof readModelSettings.READ_MODEL_STORE>;
