import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Controller, Get, Header } from '@nestjs/common';

/** Where the demo page lives: apps/embedded/public (also served by the launcher's edge proxy). */
export const DEMO_DIRECTORY = path.join(__dirname, '..', '..', 'public');

const asset = (name: string) => readFileSync(path.join(DEMO_DIRECTORY, name), 'utf8');

/** The demo page: arrow keys move your trainer; every open tab sees every trainer move live. */
@Controller()
export class DemoController {
  private readonly page = asset('index.html');
  private readonly script = asset('demo.js');

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-cache')
  index(): string {
    return this.page;
  }

  @Get('demo.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  demoScript(): string {
    return this.script;
  }
}
