# Evaluates flake.nix's `outputs` against the stand-in inputs and returns what tests/flake.rs
# checks: the attribute tree per system, the apps' programs, and the wrappers' PATH.
let
  flake = import ../../flake.nix;
  lib = import ./stub-nixpkgs/lib.nix;
  systems = [ "x86_64-linux" "aarch64-darwin" "x86_64-darwin" ];
  nixpkgs = {
    outPath = ./stub-nixpkgs;
    inherit lib;
    legacyPackages = lib.genAttrs systems (system: import ./stub-nixpkgs/pkgs.nix { inherit system; });
  };
  crane = import ./stub-crane.nix;
  self = { outPath = "/stub/ensemble-kit-src"; };
  outputs = flake.outputs { inherit self nixpkgs crane; };
  names = attrs: builtins.attrNames attrs;
in
{
  inherit (flake) description;
  inputs = builtins.mapAttrs (_: i: i.url) flake.inputs;
  outputs = names outputs;
  perSystem = lib.genAttrs systems (system: {
    packages = names outputs.packages.${system};
    apps = names outputs.apps.${system};
    checks = names outputs.checks.${system};
    devShells = names outputs.devShells.${system};
    appDefault = outputs.apps.${system}.default.program;
    appFull = outputs.apps.${system}.full.program;
    fullWrapper = outputs.packages.${system}.full.script;
    fullCpuWrapper = outputs.packages.${system}.full-cpu.script;
    defaultIsFull = outputs.packages.${system}.default.name == outputs.packages.${system}.full.name;
    libvmafCuda = {
      inherit (outputs.packages.${system}.libvmaf-cuda) mesonFlags cudaSupport unfreeAllowed;
    };
    libvmafCpuUnfree = outputs.packages.${system}.libvmaf-cpu.unfreeAllowed;
    syclEvaluates = (builtins.tryEval outputs.packages.${system}.libvmaf-sycl).success;
    testsVmaf = outputs.checks.${system}.tests.args.ENSEMBLE_KIT_VMAF;
  });
}
