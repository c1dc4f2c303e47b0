# A stand-in crane: each builder returns a derivation-shaped attribute set recording its arguments.
# `filterCargoSources` and cargoTest's `doCheck` default follow the real crane at the pinned rev
# (lib/filterCargoSources.nix, lib/cargoTest.nix), because the flake's checks rely on them.
{
  mkLib = pkgs:
    let
      inherit (pkgs) lib;
      drv = name: args: { type = "derivation"; inherit name args; outPath = "/nix/store/stub-${name}"; };
    in
    {
      filterCargoSources = path: type:
        let base = baseNameOf (toString path);
        in type == "directory"
          || lib.hasSuffix ".rs" base
          || lib.hasSuffix ".toml" base
          || base == "Cargo.lock"
          || (baseNameOf (dirOf (toString path)) == ".cargo" && base == "config");
      cleanCargoSource = src: src;
      buildDepsOnly = args: drv "ensemble-kit-deps" args;
      buildPackage = args: drv "ensemble-kit" args;
      cargoClippy = args: drv "ensemble-kit-clippy" args;
      cargoFmt = args: drv "ensemble-kit-fmt" args;
      cargoTest = args: drv "ensemble-kit-test" (args // { doCheck = args.doCheck or true; });
      devShell = args: drv "ensemble-kit-shell" args;
    };
}
