# The few nixpkgs lib functions the flake uses, as small stand-ins for offline evaluation (same
# semantics as nixpkgs' lib for the arguments the flake passes).
rec {
  genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
  hasSuffix = suffix: s:
    let n = builtins.stringLength s; m = builtins.stringLength suffix;
    in n >= m && builtins.substring (n - m) m s == suffix;
  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  removePrefix = prefix: s:
    let m = builtins.stringLength prefix;
    in if hasPrefix prefix s then builtins.substring m (builtins.stringLength s - m) s else s;
  any = pred: list: builtins.foldl' (found: x: found || pred x) false list;
  getName = pkg: pkg.pname or pkg.name;
  makeBinPath = pkgs: builtins.concatStringsSep ":" (map (p: "${p}/bin") pkgs);
  optionalAttrs = cond: attrs: if cond then attrs else { };
  # A cleaned source records its filter (composed with the one it wraps) so tests can apply it.
  cleanSourceWith = { src, filter ? (_: _: true), name ? "source" }:
    let inner = src.filter or (_: _: true);
    in {
      inherit name;
      origSrc = src.origSrc or src;
      filter = path: type: inner path type && filter path type;
      outPath = "/nix/store/stub-${name}";
    };
  cleanSource = src: cleanSourceWith { inherit src; name = "cleaned"; };
}
