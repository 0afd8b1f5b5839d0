/**
 * Every service, in plan order: a later service's plan step sees the slices of the earlier ones
 * (RabbitMQ needs the Tower instances; HAProxy defaults to the keepalived hosts; Postgres to the
 * quorum store). Adding a service = its folder + its templates folder + one line here.
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
