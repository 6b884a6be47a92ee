/**
 * The stack's data model, as the program reads it: one Scaleway site (the hub) and a list
 * of remote sites. Every type here is the output of the schema (config/schema.ts), produced
 * by `parseStackConfig` (config/parse.ts) and checked by `validateStackConfig`
 * (config/validation.ts) before any resource exists.
 */
export {
  REMOTE_SITE_KINDS,
  RemoteSiteKind,
  ROUTE_PROPAGATIONS,
  RoutePropagation,
  type RemoteSiteConfig,
  type ScalewaySiteConfig,
  type StackConfig,
} from "./schema";
