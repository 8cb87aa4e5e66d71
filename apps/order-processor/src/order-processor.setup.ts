import { type INestApplication } from '@nestjs/common';
import { SwaggerModule } from '@nestjs/swagger';
import { orderProcessorOpenApi } from './openapi/order-processor.openapi';

/**
 * What AppModule cannot do from inside a module; call it after NestFactory.create and before
 * `listen`: serves order-processor's OpenAPI document at /docs (Swagger UI), /docs-json and
 * /docs-yaml, as command-api and the SSE gateway serve theirs.
 */
export function setupOrderProcessor(app: INestApplication): void {
  SwaggerModule.setup('docs', app, orderProcessorOpenApi(), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
  });
}
