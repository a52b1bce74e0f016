import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigBundle } from "./configBundle.js";

type Source =
  | { readonly kind: "ConfigMap" | "Secret"; readonly name: pulumi.Input<string> }
  | { readonly kind: "pvc"; readonly claimName: pulumi.Input<string>; readonly readOnly: boolean }
  | { readonly kind: "emptyDir"; readonly sizeLimit: string | undefined; readonly memory: boolean };

/**
 * A volume mounted into the container: a ConfigMap, Secret or
 * {@link ConfigBundle} (read-only), a scratch `emptyDir` (writable; the root
 * filesystem is read-only by default, so this is where an app writes), or a
 * PersistentVolumeClaim. Every factory takes the mount path first.
 * @see https://kubernetes.io/docs/concepts/storage/volumes/
 */
export class Mount {
  readonly path: string;
  readonly source: Source;

  private constructor(path: string, source: Source) {
    this.path = path;
    this.source = source;
  }

  /** The keys of the ConfigMap `name` as files under `path`. */
  static configMap(path: string, name: pulumi.Input<string>): Mount {
    return new Mount(path, { kind: "ConfigMap", name });
  }

  /** The keys of the Secret `name` as files under `path`. */
  static secret(path: string, name: pulumi.Input<string>): Mount {
    return new Mount(path, { kind: "Secret", name });
  }

  /** The files of `bundle` under `path`; the pod template follows the bundle's hashed name. */
  static bundle(path: string, bundle: ConfigBundle): Mount {
    return new Mount(path, { kind: bundle.kind, name: bundle.objectName });
  }

  /**
   * The PersistentVolumeClaim `claimName` at `path`.
   * @see https://kubernetes.io/docs/concepts/storage/persistent-volumes/#claims-as-volumes
   */
  static persistentVolumeClaim(
    path: string,
    claimName: pulumi.Input<string>,
    options: { readonly readOnly?: boolean } = {},
  ): Mount {
    return new Mount(path, { kind: "pvc", claimName, readOnly: options.readOnly ?? false });
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
    } else if (s.kind === "pvc") {
      volume = { name: volumeName, persistentVolumeClaim: { claimName: s.claimName, readOnly: s.readOnly } };
    } else if (s.kind === "ConfigMap") volume = { name: volumeName, configMap: { name: s.name } };
    else volume = { name: volumeName, secret: { secretName: s.name } };
    const readOnly = s.kind === "pvc" ? s.readOnly : s.kind !== "emptyDir";
    return { volume, mount: { name: volumeName, mountPath: this.path, readOnly } };
  }
}
