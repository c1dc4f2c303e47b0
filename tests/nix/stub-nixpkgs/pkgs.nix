# A stand-in package set: every package is a plain attribute set that looks like a derivation
# (type, name, outPath), so the flake's wiring can be evaluated without building anything.
{ system, config ? { } }:
let
  drv = name: attrs: { type = "derivation"; inherit name system; outPath = "/nix/store/stub-${name}"; } // attrs;
  overridable = name: attrs: drv name (attrs // {
    overrideAttrs = f:
      let new = f { mesonFlags = [ ]; nativeBuildInputs = [ ]; buildInputs = [ ]; };
      in overridable (new.pname or name) (attrs // new);
  });
in
{
  lib = import ./lib.nix;
  libvmaf = overridable "libvmaf" { cudaSupport = config.cudaSupport or false; unfreeAllowed = config ? allowUnfreePredicate; };
  ffmpeg-full = drv "ffmpeg-full" { };
  makeWrapper = drv "make-wrapper" { };
  meson = drv "meson" { };
  ninja = drv "ninja" { };
  nasm = drv "nasm" { };
  xxd = drv "xxd" { };
  pkg-config = drv "pkg-config" { };
  python3 = drv "python3" { };
  cudaPackages = { cuda_nvcc = drv "cuda_nvcc" { }; cuda_cudart = drv "cuda_cudart" { }; };
  runCommand = name: env: script: drv name { inherit env script; };
  writeShellScript = name: text: drv name { inherit text; };
}
