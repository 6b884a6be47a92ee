/**
 * The component package's entry point (package.json `main`): when Pulumi runs this
 * repository as a plugin (`pulumi package add <repo url>`, then every `pulumi up` of the
 * consuming program), it serves SiteToSiteVpn and the key components over gRPC.
 * The stack program is index.ts (Pulumi.yaml `main`).
 *
 * It exports no component class on purpose: Pulumi's plugin runner would then start the
 * SDK's own host, whose schema carries no secret flags (components/package.ts).
 */
import * as path from "path";
import { main } from "@pulumi/pulumi/provider";
import { WgS2sProvider } from "./components/package";

// The package root is where this file is; the inference reads package.json and tsconfig.json there.
void main(new WgS2sProvider(path.resolve(__dirname)), process.argv.slice(2));
