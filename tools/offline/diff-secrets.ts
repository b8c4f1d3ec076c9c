/**
 * secrets.json: which `secure:` values a stack file holds, and a digest of each ciphertext, so
 * that the plan diff (./diff.ts) can say a secret changed without either plan knowing it. Offline,
 * every secret is the same placeholder (./stack-file.ts SECRET_PLACEHOLDER) and the plan's files
 * show `[secret]` (./run.ts SECRET): only the ciphertext tells two secrets apart. Pulumi encrypts
 * each value with a fresh nonce (pulumi/pulumi sdk/go/common/resource/config/crypt.go
 * symmetricCrypter.EncryptValue, encryptAES256GCGM: AES-256-GCM, a random 12-byte nonce, `v1:<nonce>:<ciphertext>`),
 * so re-encrypting the same value also shows as changed: `pulumi config set --secret` was run.
 * The digest is of the ciphertext, never of a value, and the ciphertext itself is written nowhere.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import { CORE_SCHEMA, load } from "js-yaml";
import { isRecord } from "../../config/project";
import { InputError } from "./stack-file";

/** `sha256:<hex>` of each `secure:` ciphertext in a parsed stack file, by key and path (`llm-platform:apiKeyValue`; a value inside a structured key as `key.field[0]`). */
export function secureDigests(document: unknown): Record<string, string> {
    const config = isRecord(document) && isRecord(document.config) ? document.config : {};
    const digests: Record<string, string> = {};
    const walk = (value: unknown, where: string): void => {
        if (isRecord(value) && Object.keys(value).length === 1 && typeof value.secure === "string") {
            digests[where] = `sha256:${createHash("sha256").update(value.secure).digest("hex")}`;
        } else if (Array.isArray(value)) {
            value.forEach((item, index) => walk(item, `${where}[${index}]`));
        } else if (isRecord(value)) {
            Object.entries(value).forEach(([key, child]) => walk(child, `${where}.${key}`));
        }
    };
    Object.entries(config).forEach(([key, value]) => walk(value, key));
    return Object.fromEntries(Object.entries(digests).sort(([a], [b]) => a.localeCompare(b)));
}

/** The digests of a stack file's secure values (the plan has read it already: a bad file is an InputError there first). */
export function stackFileSecureDigests(file: string): Record<string, string> {
    try {
        return secureDigests(load(fs.readFileSync(file, "utf8"), { schema: CORE_SCHEMA }));
    } catch (error) {
        throw new InputError(`${file}: cannot read its secure values: ${String(error instanceof Error ? error.message : error).split("\n")[0]}`);
    }
}
