import { type INestApplication } from '@nestjs/common';
import { SwaggerModule } from '@nestjs/swagger';
import { gatewayOpenApi } from './openapi/gateway.openapi';

/**
 * What GatewayModule cannot do from inside a module; call it after NestFactory.create and before
 * `listen`: serves the gateway's OpenAPI document at /docs (Swagger UI), /docs-json and
 * /docs-yaml. The embedded app serves it merged into command-api's document instead
 * (`setupCommandApi`'s `documents`).
 */
export function setupSseGateway(app: INestApplication, options: { docsPath?: string } = {}): void {
  const docsPath = options.docsPath ?? 'docs';
  SwaggerModule.setup(docsPath, app, gatewayOpenApi(), {
    jsonDocumentUrl: `${docsPath}-json`,
    yamlDocumentUrl: `${docsPath}-yaml`,
  });
}
