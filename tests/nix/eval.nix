# Evaluates flake.nix's `outputs` against the stand-in inputs and returns what tests/flake.rs
# checks, in the spirit of `nix flake check --no-build`: every package, app, check and devShell of
# every system evaluated in full (a `throw` anywhere shows as `false`), the apps' programs, the
# wrappers' PATH, the libvmaf builds, and which of `probes` (paths relative to the checkout, with
# their type) the tests' source filter keeps.
{ probes ? [ ] }:
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
  evaluates = v: (builtins.tryEval (builtins.deepSeq v true)).success;
  perKind = kind: system: builtins.mapAttrs (_: evaluates) outputs.${kind}.${system};
  wrapperOf = p: p.script or null;
in
{
  inherit (flake) description;
  inputs = builtins.mapAttrs (_: i: i.url) flake.inputs;
  outputs = names outputs;
  perSystem = lib.genAttrs systems (system:
    let
      packages = outputs.packages.${system};
      tests = outputs.checks.${system}.tests;
      source = tests.args.src;
      isLinux = lib.hasSuffix "-linux" system;
    in
    {
      packages = names packages;
      apps = names outputs.apps.${system};
      checks = names outputs.checks.${system};
      devShells = names outputs.devShells.${system};
      evaluates = lib.genAttrs [ "packages" "apps" "checks" "devShells" ] (kind: perKind kind system);
      packageTypes = builtins.mapAttrs (_: p: let r = builtins.tryEval (p.type or null); in if r.success then r.value else "throws") packages;
      appTypes = builtins.mapAttrs (_: a: a.type) outputs.apps.${system};
      appDefault = outputs.apps.${system}.default.program;
      appFull = outputs.apps.${system}.full.program;
      appFullCuda = if isLinux then outputs.apps.${system}.full-cuda.program else null;
      fullWrapper = wrapperOf packages.full;
      fullCpuWrapper = wrapperOf packages.full-cpu;
      fullCudaWrapper = if isLinux then wrapperOf packages.full-cuda else null;
      defaultIsFull = packages.default.name == packages.full.name;
      libvmafCpu = {
        inherit (packages.libvmaf-cpu) version sourceRoot mesonFlags mesonBuildType;
        src = { inherit (packages.libvmaf-cpu.src) name url sha256; };
        mainProgram = packages.libvmaf-cpu.meta.mainProgram;
      };
      libvmafCuda = if isLinux then {
        inherit (packages.libvmaf-cuda) mesonFlags unfreeAllowed postPatch;
        cudaPath = packages.libvmaf-cuda.env.CUDA_PATH;
      } else null;
      tests = {
        inherit (tests.args) doCheck ENSEMBLE_KIT_VMAF preCheck;
        kept = map (p: source.filter "${toString source.origSrc}/${p.path}" p.type) probes;
      };
    });
}
