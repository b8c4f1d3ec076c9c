import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, packArgs } from "./pack";

// Constructing the pack starts the analyzer server: only `pulumi preview --policy-pack`
// loads this file. Tests and the offline tools import ./pack instead.
new PolicyPack(PACK_NAME, packArgs);
