/** Where this repository keeps @vigil/mixin's output. */
export declare const REPO_LAYOUT: {
  readonly dashboards: string;
  readonly rules: string;
  readonly runbooks: string;
  readonly prometheusRule: string;
  readonly configFile: string;
  readonly command: string;
};
export declare const CONFIG_FILE: string;
export declare function defaultsDocs(root: string): Map<string, string>;
export declare function runMixin(options: {
  root: string;
  catalog: unknown;
  check: boolean;
  argv?: string[];
}): Promise<number>;
