import { type ArgumentsHost, Catch } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { errorHandler } from '@vigil/express';

/**
 * Nest answers errors itself, so Vigil sees only the status; this filter hands the error to Vigil
 * (an `exception` event on the request's span, `err` on its request line), then Nest answers.
 */
@Catch()
export class VigilErrors extends BaseExceptionFilter {
  override catch(err: unknown, host: ArgumentsHost) {
    const http = host.switchToHttp();
    errorHandler(err, http.getRequest(), http.getResponse(), () => {});
    super.catch(err, host);
  }
}
