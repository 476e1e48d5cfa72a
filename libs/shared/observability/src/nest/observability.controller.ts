import { Controller, Get, Header, HttpCode, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { HealthRegistry } from '../health.js';
import { metricsRegistry } from '../metrics.js';
import { Public } from '../public-route.js';

/** Unauthenticated operational endpoints: liveness, readiness and Prometheus metrics. */
@Public()
@ApiExcludeController()
@Controller()
export class ObservabilityController {
  constructor(private readonly health: HealthRegistry) {}

  /** Liveness: the process answers. No dependency checks, so a broker outage never restarts pods. */
  @Get('health/live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: 503 only when a check that affects it fails; `degraded` checks (targets) answer 200 with the detail. */
  @Get('health/ready')
  async ready(@Res() res: Response): Promise<void> {
    const report = await this.health.readiness();
    res.status(report.status === 'unavailable' ? 503 : 200).json(report);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', metricsRegistry.contentType);
    res.send(await metricsRegistry.metrics());
  }
}
