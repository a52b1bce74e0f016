import type * as k8s from "@pulumi/kubernetes";

type Peer =
  | { readonly kind: "namespace"; readonly name: string }
  | { readonly kind: "pods"; readonly labels: Readonly<Record<string, string>> }
  | { readonly kind: "sameNamespace" }
  | { readonly kind: "cidr"; readonly cidr: string; readonly except: readonly string[] };

/**
 * One entry of a namespace's network allow list: another namespace, pods by
 * label in this namespace, every pod of this namespace, or an IP block.
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors
 */
export class NetworkPeer {
  readonly peer: Peer;

  private constructor(peer: Peer) {
    this.peer = peer;
  }

  /** Every pod of the namespace called `name`. */
  static namespace(name: string): NetworkPeer {
    return new NetworkPeer({ kind: "namespace", name });
  }

  /** Pods of this namespace carrying `labels`. */
  static pods(labels: Readonly<Record<string, string>>): NetworkPeer {
    return new NetworkPeer({ kind: "pods", labels });
  }

  /** Every pod of this namespace. */
  static sameNamespace(): NetworkPeer {
    return new NetworkPeer({ kind: "sameNamespace" });
  }

  /** Addresses in `cidr`, minus `except`. */
  static cidr(cidr: string, except: readonly string[] = []): NetworkPeer {
    return new NetworkPeer({ kind: "cidr", cidr, except });
  }

  toK8s(): k8s.types.input.networking.v1.NetworkPolicyPeer {
    const p = this.peer;
    switch (p.kind) {
      case "namespace":
        return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": p.name } } };
      case "pods":
        return { podSelector: { matchLabels: { ...p.labels } } };
      case "sameNamespace":
        return { podSelector: {} };
      case "cidr":
        return { ipBlock: { cidr: p.cidr, ...(p.except.length > 0 ? { except: [...p.except] } : {}) } };
    }
  }
}
