# A stand-in crane: each builder returns a derivation-shaped attribute set recording its arguments.
{
  mkLib = pkgs:
    let drv = name: args: { type = "derivation"; inherit name args; outPath = "/nix/store/stub-${name}"; };
    in {
      cleanCargoSource = src: src;
      buildDepsOnly = args: drv "ensemble-kit-deps" args;
      buildPackage = args: drv "ensemble-kit" args;
      cargoClippy = args: drv "ensemble-kit-clippy" args;
      cargoFmt = args: drv "ensemble-kit-fmt" args;
      cargoTest = args: drv "ensemble-kit-test" args;
      devShell = args: drv "ensemble-kit-shell" args;
    };
}
