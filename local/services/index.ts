// Local DynamoDB (+ Streams), SQS (ElasticMQ) and OpenSearch for tests and the local runner:
// the one entry point (in-process services in provider.ts, detached ones in detached.ts).
//
// In-process (`startLocalServices`) the services die with the caller. Detached
// (`servicesUp`/`servicesDown`/`servicesEnvLines`, behind `streamfill services up|down|env`)
// they outlive the CLI and are described by a state file per working directory in the cache.

export * from './detached.ts';
export * from './provider.ts';
export * from './service-env.ts';
