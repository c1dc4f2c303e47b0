# Everything the flake offers for one system, derived from one craneLib.
#
# - packages.ensemble-kit: the binary alone (crane: buildDepsOnly, then buildPackage with the
#   same commonArgs).
# - packages.libvmaf-cpu: libvmaf 2.3.1 built from the very crate scripts/bootstrap.sh builds
#   (libvmaf-sys 0.4.4, same sha256, same meson options), so Nix boxes and tarball boxes score
#   bit-identically and their shards merge.
# - packages.libvmaf-cuda (Linux only): nixpkgs' libvmaf 3.x with -Denable_cuda=true.
# - packages.full (= default, = full-cpu): the binary wrapped so the pinned ffmpeg and the CPU
#   libvmaf come first on PATH; packages.full-cuda (Linux only) wraps the CUDA libvmaf instead.
#   Shards record the libvmaf version, so a 3.x CUDA shard never merges silently with 2.3.1 ones.
# - apps.full / apps.full-cuda: `nix run .#full -- --ref-dir DIR` runs `ensemble-kit full`.
#
# No SYCL libvmaf: the pinned nixpkgs has no Intel oneAPI DPC++ (icpx) toolchain; on the Intel
# box build it with `ensemble-kit build-libvmaf --platform linux-x86_64-sycl` (see README.md).
{ system, nixpkgs, crane, src }:
let
  pkgs = nixpkgs.legacyPackages.${system};
  lib = pkgs.lib;
  isLinux = lib.hasSuffix "-linux" system;

  craneLib = crane.mkLib pkgs;

  # The cargo sources plus every file the tests read (schemas, golden files, fixtures, the scripts
  # and the Action they exercise, the flake they evaluate, the lock they check).
  testInputs = [ "schemas" "tests" "scripts" ".github" "action.yml" "flake.lock" "flake.nix" "nix" ];
  keepForTests = path: _type:
    let rel = lib.removePrefix "${toString src}/" (toString path);
    in lib.any (top: rel == top || lib.hasPrefix "${top}/" rel) testInputs;
  source = lib.cleanSourceWith {
    src = lib.cleanSource src;
    filter = path: type: craneLib.filterCargoSources path type || keepForTests path type;
    name = "ensemble-kit-source";
  };

  commonArgs = {
    src = source;
    strictDeps = true;
    pname = "ensemble-kit";
  };
  # Dependencies, dev-dependencies included (crane's default), for the package and every check.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;
  # Tests need ffmpeg and vmaf at run time; they run in `checks.tests`.
  ensemble-kit = craneLib.buildPackage (commonArgs // { inherit cargoArtifacts; doCheck = false; });

  # The pinned libvmaf source: the crates.io tarball of libvmaf-sys 0.4.4, which vendors libvmaf
  # 2.3.1 under vmaf/. Same file and sha256 as scripts/bootstrap.sh.
  libvmafCrate = pkgs.fetchurl {
    name = "libvmaf-sys-0.4.4.tar.gz";
    url = "https://crates.io/api/v1/crates/libvmaf-sys/0.4.4/download";
    sha256 = "8b053ec5f32c6ba5ae9a51d2bbef0abd35e34033ad83c7b331bfec3e04df79a6";
  };
  libvmaf-cpu = pkgs.stdenv.mkDerivation {
    pname = "libvmaf";
    version = "2.3.1";
    src = libvmafCrate;
    # meson runs at the libvmaf folder, as in the bootstrap.
    sourceRoot = "libvmaf-sys-0.4.4/vmaf/libvmaf";
    nativeBuildInputs = [ pkgs.meson pkgs.ninja pkgs.nasm pkgs.xxd ];
    # The bootstrap's options: --buildtype=release -Denable_float=true -Ddefault_library=static
    # -Denable_tests=false -Denable_docs=false.
    mesonBuildType = "release";
    mesonFlags = [ "-Denable_float=true" "-Ddefault_library=static" "-Denable_tests=false" "-Denable_docs=false" ];
    meta.mainProgram = "vmaf";
  };

  # CUDA is unfree: allowed for the CUDA scorer only, through its own package set.
  cudaPkgs = import nixpkgs {
    inherit system;
    config.allowUnfreePredicate = pkg: lib.hasPrefix "cuda" (lib.getName pkg) || lib.hasPrefix "libnv" (lib.getName pkg) || lib.hasPrefix "libcu" (lib.getName pkg);
    config.cudaSupport = true;
  };
  cuda = cudaPkgs.cudaPackages;
  # nixpkgs' libvmaf has no cudaSupport argument: the meson flag alone turns CUDA on, and
  # libvmaf's src/meson.build looks for the headers in /usr/local/cuda/include, which the build
  # sandbox does not have, so point it (and CUDA_PATH) at the toolkit.
  libvmaf-cuda = cudaPkgs.libvmaf.overrideAttrs (old: {
    pname = "libvmaf-cuda";
    mesonFlags = (old.mesonFlags or [ ]) ++ [ "-Denable_cuda=true" ];
    nativeBuildInputs = (old.nativeBuildInputs or [ ]) ++ [ cuda.cuda_nvcc ];
    buildInputs = (old.buildInputs or [ ]) ++ [ cuda.cuda_cudart ];
    postPatch = (old.postPatch or "") + ''
      substituteInPlace src/meson.build --replace-fail /usr/local/cuda/include ${cuda.cudatoolkit}/include
    '';
    env = (old.env or { }) // { CUDA_PATH = "${cuda.cudatoolkit}"; };
  });

  # ffmpeg with NVENC and QSV on Linux, VideoToolbox on macOS (nixpkgs' full build has them).
  ffmpeg = pkgs.ffmpeg-full;

  wrap = name: scorer: pkgs.runCommand name { nativeBuildInputs = [ pkgs.makeWrapper ]; meta.mainProgram = "ensemble-kit"; } ''
    mkdir -p $out/bin
    makeWrapper ${ensemble-kit}/bin/ensemble-kit $out/bin/ensemble-kit \
      --prefix PATH : ${lib.makeBinPath [ ffmpeg scorer ]}
  '';
  # `nix run .#NAME -- ARGS` runs `ensemble-kit full ARGS` with the wrapper's tools.
  fullApp = name: wrapper: {
    type = "app";
    program = "${pkgs.writeShellScript "${name}-app" ''exec ${wrapper}/bin/ensemble-kit full "$@"''}";
  };

  full = wrap "ensemble-kit-full" libvmaf-cpu;
  full-cuda = wrap "ensemble-kit-full-cuda" libvmaf-cuda;
in
{
  packages = {
    inherit ensemble-kit libvmaf-cpu full;
    full-cpu = full;
    default = full;
  } // lib.optionalAttrs isLinux { inherit libvmaf-cuda full-cuda; };

  apps = {
    default = { type = "app"; program = "${full}/bin/ensemble-kit"; };
    full = fullApp "ensemble-kit-full" full;
  } // lib.optionalAttrs isLinux { full-cuda = fullApp "ensemble-kit-full-cuda" full-cuda; };

  checks = {
    build = ensemble-kit;
    clippy = craneLib.cargoClippy (commonArgs // { inherit cargoArtifacts; cargoClippyExtraArgs = "--all-targets -- -D warnings"; });
    fmt = craneLib.cargoFmt { inherit (commonArgs) src; };
    # The whole test suite, with the tools it runs; the pinned crate is put where the kit and
    # the distribution test look for it (cargo's download cache).
    tests = craneLib.cargoTest (commonArgs // {
      inherit cargoArtifacts;
      doCheck = true;
      nativeCheckInputs = [ ffmpeg libvmaf-cpu pkgs.meson pkgs.ninja pkgs.nasm pkgs.xxd pkgs.pkg-config pkgs.python3 ];
      ENSEMBLE_KIT_VMAF = "${libvmaf-cpu}/bin/vmaf";
      preCheck = ''
        patchShebangs scripts
        mkdir -p "$CARGO_HOME/registry/cache/pinned"
        ln -s ${libvmafCrate} "$CARGO_HOME/registry/cache/pinned/libvmaf-sys-0.4.4.crate"
      '';
    });
  };

  devShells.default = craneLib.devShell {
    checks = { };
    packages = [ ffmpeg libvmaf-cpu pkgs.meson pkgs.ninja pkgs.nasm pkgs.xxd pkgs.pkg-config pkgs.python3 ];
  };
}
