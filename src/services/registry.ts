/**
 * Every service, in plan order: a later service's plan step sees the slices of the earlier ones
 * (RabbitMQ needs the Tower instances; HAProxy defaults to the keepalived hosts; Postgres to the
 * quorum store). Adding a service = its folder + its templates folder + a line in each list here.
 */
import type { ServiceModule } from "./types";
import { towerService } from "./tower";
import { rabbitmqService } from "./rabbitmq";
import { quorumStoreService } from "./quorum-store";
import { pacemakerService } from "./pacemaker";
import { keepalivedService } from "./keepalived";
import { haproxyService } from "./haproxy";
import { postgresService } from "./postgres";
import { syncthingService } from "./syncthing";
import { activePassiveService } from "./active-passive";

export const services: readonly ServiceModule[] = [
  towerService,
  rabbitmqService,
  quorumStoreService,
  pacemakerService,
  keepalivedService,
  haproxyService,
  postgresService,
  syncthingService,
  activePassiveService,
];

/**
 * The order the Pulumi program declares the services' components in: a service after those its
 * component spec names in `after` (Postgres after its quorum store, Tower after its broker and
 * database). It is also the order membership actions are chained across services (one at a
 * time; destroy removes members in reverse), so it changes only with care.
 */
export const deployOrder: readonly ServiceModule[] = [
  quorumStoreService,
  pacemakerService,
  keepalivedService,
  haproxyService,
  postgresService,
  rabbitmqService,
  syncthingService,
  activePassiveService,
  towerService,
];

/**
 * The order of the services' parts of the plan summary (their `summary`): `haforge plan`'s lines
 * and the keys of `plan --json`, which scripts read, so it changes only with care.
 * tests/unit/service-registry.test.ts checks it lists every registered service once.
 */
export const summaryOrder = [
  towerService,
  rabbitmqService,
  pacemakerService,
  keepalivedService,
  quorumStoreService,
  postgresService,
  haproxyService,
  syncthingService,
  activePassiveService,
] as const;
