import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigBundle } from "./configBundle.js";

type Source =
  | { readonly kind: "ConfigMap" | "Secret"; readonly name: pulumi.Input<string> }
  | { readonly kind: "emptyDir"; readonly sizeLimit: string | undefined; readonly memory: boolean };

/**
 * A volume mounted into the container: a ConfigMap, Secret or
 * {@link ConfigBundle} (read-only), or a scratch `emptyDir` (writable; the root
 * filesystem is read-only by default, so this is where an app writes).
 * @see https://kubernetes.io/docs/concepts/storage/volumes/
 */
export class Mount {
  readonly path: string;
  readonly source: Source;

  private constructor(path: string, source: Source) {
    this.path = path;
    this.source = source;
  }

  static configMap(name: pulumi.Input<string>, path: string): Mount {
    return new Mount(path, { kind: "ConfigMap", name });
  }

  static secret(name: pulumi.Input<string>, path: string): Mount {
    return new Mount(path, { kind: "Secret", name });
  }

  /** The files of `bundle`; the pod template follows the bundle's hashed name. */
  static bundle(bundle: ConfigBundle, path: string): Mount {
    return new Mount(path, { kind: bundle.kind, name: bundle.objectName });
  }

  /** A writable scratch directory, in memory when `memory` is true. */
  static emptyDir(
    path: string,
    options: { readonly sizeLimit?: string; readonly memory?: boolean } = {},
  ): Mount {
    return new Mount(path, {
      kind: "emptyDir",
      sizeLimit: options.sizeLimit,
      memory: options.memory ?? false,
    });
  }

  /** The volume and the container's mount of it, under `volumeName`. */
  toK8s(volumeName: string): {
    volume: k8s.types.input.core.v1.Volume;
    mount: k8s.types.input.core.v1.VolumeMount;
  } {
    const s = this.source;
    let volume: k8s.types.input.core.v1.Volume;
    if (s.kind === "emptyDir") {
      volume = {
        name: volumeName,
        emptyDir: {
          ...(s.memory ? { medium: "Memory" } : {}),
          ...(s.sizeLimit === undefined ? {} : { sizeLimit: s.sizeLimit }),
        },
      };
    } else if (s.kind === "ConfigMap") volume = { name: volumeName, configMap: { name: s.name } };
    else volume = { name: volumeName, secret: { secretName: s.name } };
    return { volume, mount: { name: volumeName, mountPath: this.path, readOnly: s.kind !== "emptyDir" } };
  }
}
