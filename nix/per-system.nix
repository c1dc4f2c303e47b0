# Everything the flake offers for one system, derived from one craneLib.
#
# - packages.ensemble-kit: the binary alone (crane: buildDepsOnly, then buildPackage with the
#   same commonArgs).
# - packages.libvmaf-cpu / libvmaf-cuda / libvmaf-sycl: the scorer per platform.
# - packages.full (= default): the binary wrapped so the pinned ffmpeg and this platform's libvmaf
#   come first on PATH.
# - apps.full / apps.default: `nix run .#full -- --ref-dir DIR` runs `ensemble-kit full`.
{ system, nixpkgs, crane, src }:
let
  pkgs = nixpkgs.legacyPackages.${system};
  lib = pkgs.lib;
  isLinux = lib.hasSuffix "-linux" system;
  isDarwin = lib.hasSuffix "-darwin" system;

  # CUDA is unfree: allowed for the CUDA scorer only, through its own package set.
  cudaPkgs = import nixpkgs {
    inherit system;
    config.allowUnfreePredicate = pkg: lib.hasPrefix "cuda" (lib.getName pkg) || lib.hasPrefix "libnv" (lib.getName pkg) || lib.hasPrefix "libcu" (lib.getName pkg);
    config.cudaSupport = true;
  };

  craneLib = crane.mkLib pkgs;
  commonArgs = {
    src = craneLib.cleanCargoSource src;
    strictDeps = true;
    pname = "ensemble-kit";
    # Tests need ffmpeg and vmaf at run time; they run in `checks.tests`.
    doCheck = false;
  };
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;
  ensemble-kit = craneLib.buildPackage (commonArgs // { inherit cargoArtifacts; });

  libvmaf-cpu = pkgs.libvmaf;
  libvmaf-cuda = cudaPkgs.libvmaf.overrideAttrs (old: {
    pname = "libvmaf-cuda";
    mesonFlags = (old.mesonFlags or [ ]) ++ [ "-Denable_cuda=true" ];
    nativeBuildInputs = (old.nativeBuildInputs or [ ]) ++ [ cudaPkgs.cudaPackages.cuda_nvcc ];
    buildInputs = (old.buildInputs or [ ]) ++ [ cudaPkgs.cudaPackages.cuda_cudart ];
  });
  libvmaf-sycl = throw ''
    libvmaf-sycl: the pinned nixpkgs has no Intel oneAPI DPC++ (icpx) toolchain, so libvmaf cannot
    be built with -Denable_sycl=true here. On the Intel box, install oneAPI and run
      ensemble-kit build-libvmaf --platform linux-x86_64-sycl --source <libvmaf 3.x checkout>
    then pass --vmaf binaries/linux-x86_64-sycl/vmaf (or use packages.full, which scores on the CPU).
  '';

  # ffmpeg with NVENC and QSV on Linux, VideoToolbox on macOS (nixpkgs' full build has them).
  ffmpeg = pkgs.ffmpeg-full;

  # The platform's scorer: the CUDA build on Linux (it falls back to the CPU itself when no GPU
  # is visible, and the kit warns), the CPU build on macOS.
  platformLibvmaf = if isLinux then libvmaf-cuda else libvmaf-cpu;

  wrap = name: scorer: pkgs.runCommand name { nativeBuildInputs = [ pkgs.makeWrapper ]; meta.mainProgram = "ensemble-kit"; } ''
    mkdir -p $out/bin
    makeWrapper ${ensemble-kit}/bin/ensemble-kit $out/bin/ensemble-kit \
      --prefix PATH : ${lib.makeBinPath [ ffmpeg scorer ]}
  '';
  full = wrap "ensemble-kit-full" platformLibvmaf;
  app = { type = "app"; program = "${full}/bin/ensemble-kit"; };
  fullApp = {
    type = "app";
    program = "${pkgs.writeShellScript "ensemble-kit-full-app" ''exec ${full}/bin/ensemble-kit full "$@"''}";
  };
in
{
  packages = {
    inherit ensemble-kit libvmaf-cpu libvmaf-cuda libvmaf-sycl full;
    full-cpu = wrap "ensemble-kit-full-cpu" libvmaf-cpu;
    default = full;
  } // lib.optionalAttrs isDarwin { libvmaf-darwin = libvmaf-cpu; };

  apps = {
    default = app;
    full = fullApp;
  };

  checks = {
    build = ensemble-kit;
    clippy = craneLib.cargoClippy (commonArgs // { inherit cargoArtifacts; cargoClippyExtraArgs = "--all-targets -- -D warnings"; });
    fmt = craneLib.cargoFmt { src = commonArgs.src; };
    tests = craneLib.cargoTest (commonArgs // {
      inherit cargoArtifacts;
      nativeCheckInputs = [ ffmpeg libvmaf-cpu ];
      ENSEMBLE_KIT_VMAF = "${libvmaf-cpu}/bin/vmaf";
    });
  };

  devShells.default = craneLib.devShell {
    checks = { };
    packages = [ ffmpeg libvmaf-cpu pkgs.meson pkgs.ninja pkgs.nasm pkgs.xxd pkgs.pkg-config pkgs.python3 ];
  };
}
