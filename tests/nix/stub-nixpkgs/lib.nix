# The few nixpkgs lib functions the flake uses, as small stand-ins for offline evaluation.
rec {
  genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
  hasSuffix = suffix: s:
    let n = builtins.stringLength s; m = builtins.stringLength suffix;
    in n >= m && builtins.substring (n - m) m s == suffix;
  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  getName = pkg: pkg.pname or pkg.name;
  makeBinPath = pkgs: builtins.concatStringsSep ":" (map (p: "${p}/bin") pkgs);
  optionalAttrs = cond: attrs: if cond then attrs else { };
}
