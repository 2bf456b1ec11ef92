// security/reflect-metadata.ts — the three Reflect metadata calls @peculiar/x509's dependency
// injection (tsyringe) makes, installed only when no polyfill already did.
//
// @peculiar/x509 refuses to load without a Reflect metadata polyfill (reflect-metadata, core-js or
// @abraham/reflection). None is among our dependencies, and tsyringe only reads and writes the
// metadata of its own registrations (getMetadata, getOwnMetadata, defineMetadata), so this shim
// gives exactly those, kept per target in a WeakMap. Imported by security/x509.ts before the
// library; a real polyfill loaded earlier wins.

type MetadataKey = unknown;
type Target = object;

interface ReflectMetadata {
  defineMetadata(key: MetadataKey, value: unknown, target: Target): void;
  getOwnMetadata(key: MetadataKey, target: Target): unknown;
  getMetadata(key: MetadataKey, target: Target): unknown;
}

const metadata = new WeakMap<Target, Map<MetadataKey, unknown>>();

function ownOf(target: Target): Map<MetadataKey, unknown> {
  let own = metadata.get(target);
  if (own === undefined) {
    own = new Map();
    metadata.set(target, own);
  }
  return own;
}

const shim: ReflectMetadata = {
  defineMetadata(key, value, target) {
    ownOf(target).set(key, value);
  },
  getOwnMetadata: (key, target) => metadata.get(target)?.get(key),
  getMetadata(key, target) {
    for (
      let at = target as Target | null;
      at !== null;
      at = Object.getPrototypeOf(at) as Target | null
    ) {
      const own = metadata.get(at);
      if (own?.has(key) === true) return own.get(key);
    }
    return undefined;
  },
};

const reflect = Reflect as unknown as Partial<ReflectMetadata>;
if (typeof reflect.getMetadata !== "function") Object.assign(Reflect, shim);
