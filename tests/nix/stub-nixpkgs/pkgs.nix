# A stand-in package set: every package is a plain attribute set that looks like a derivation
# (type, name, outPath), so the flake's wiring can be evaluated without building anything.
{ system, config ? { } }:
let
  drv = name: attrs: { type = "derivation"; inherit name system; outPath = "/nix/store/stub-${name}"; } // attrs;
  overridable = name: attrs: drv name (attrs // {
    overrideAttrs = f:
      let new = f { mesonFlags = [ "-Denable_avx512=true" ]; nativeBuildInputs = [ ]; buildInputs = [ ]; postPatch = ""; };
      in overridable (new.pname or name) (attrs // new);
  });
  cudaOnly = name:
    if builtins.elem system [ "x86_64-linux" "aarch64-linux" ] then drv name { }
    else throw "${name} is not available on ${system}";
in
{
  lib = import ./lib.nix;
  libvmaf = overridable "libvmaf" { version = "3.0.0"; cudaSupport = config.cudaSupport or false; unfreeAllowed = config ? allowUnfreePredicate; };
  stdenv.mkDerivation = attrs: drv "${attrs.pname}-${attrs.version}" attrs;
  fetchurl = { name, url, sha256 }: drv name { inherit url sha256; };
  ffmpeg-full = drv "ffmpeg-full" { };
  makeWrapper = drv "make-wrapper" { };
  meson = drv "meson" { };
  ninja = drv "ninja" { };
  nasm = drv "nasm" { };
  xxd = drv "xxd" { };
  pkg-config = drv "pkg-config" { };
  python3 = drv "python3" { };
  # Like nixpkgs: the CUDA packages exist on Linux only.
  cudaPackages = {
    cuda_nvcc = cudaOnly "cuda_nvcc";
    cuda_cudart = cudaOnly "cuda_cudart";
    cudatoolkit = cudaOnly "cudatoolkit";
  };
  runCommand = name: env: script: drv name { inherit env script; };
  writeShellScript = name: text: drv name { inherit text; };
}
