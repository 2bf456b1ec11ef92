// client/index.ts — the package's entry (`import { Grapevine } from "grapevine"`): the client
// library and the types an application names. Everything else in dist/ is the server's own.

export { Grapevine } from "./client.js";
export type {
  CallOptions,
  Entry,
  KeysOptions,
  PutOptions,
  ReadOptions,
  WriteOptions,
  Written,
} from "./client.js";
export { GrapevineClientError, GrapevineResponseError } from "./errors.js";
export { KEY_PAGE_LIMITS } from "./key-pages.js";
export type { Applied, ClientFailureReason } from "./errors.js";
export { GrapevineError } from "../core/errors.js";
export type { ErrorCode } from "../core/errors.js";
export { addressTable, CLIENT_DEFAULTS } from "./options.js";
export type {
  AddressTranslator,
  AdvertisedNode,
  ClientTlsOptions,
  Consistency,
  GrapevineOptions,
  RetryOptions,
  Routing,
} from "./options.js";
