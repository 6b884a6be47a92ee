/**
 * The CrossGuard policy pack, run by `pulumi preview|up --policy-pack policy` (and by the preview
 * workflow). Every policy is mandatory: a violation fails the preview or the update.
 * Rule logic: rules.ts. CrossGuard wiring: policies.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("scaleway-wireguard-s2s", { enforcementLevel: "mandatory", policies });
