// This major's Nest and the Vigil adapters, resolved from this package (see package.json).
import 'reflect-metadata';

export * as common from '@nestjs/common';
export * as core from '@nestjs/core';
export * as platformExpress from '@nestjs/platform-express';
export * as platformFastify from '@nestjs/platform-fastify';
export { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
export * as vigilExpress from '@vigil/express';
export * as vigilFastify from '@vigil/fastify';
export * as vigilLogger from '@vigil/logger';
export * as vigilLoggerFastify from '@vigil/logger/fastify';
export * as vigilTracing from '@vigil/tracing';
export { default as fastify } from 'fastify';
