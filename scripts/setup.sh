#!/usr/bin/env bash
# One set-up step: install the Debian packages encore needs (idempotent), build into build/, and run the
# demo (synthetic play logs -> ALS -> related items).  Usage: scripts/setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libeigen3-dev libopenblas-dev libxxhash-dev libutf8proc-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev libcpp-httplib-dev libpqxx-dev libpq-dev
  postgresql chromium chromium-driver python3-selenium wrk
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy python3-pandas python3-scipy python3-pytest
  python3-hnswlib python3-faiss python3-matplotlib
  python3-tqdm python3-threadpoolctl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# -march=native locally; ENCORE_NATIVE=OFF gives a portable build for other CPUs.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DENCORE_NATIVE="${ENCORE_NATIVE:-ON}" >/dev/null
cmake --build build --parallel "$(nproc)"
echo "setup: built build/encore"

if [ "${1:-}" != "--no-demo" ]; then
  echo "setup: demo — synthetic play logs -> ALS -> related artists"
  mkdir -p build/demo
  build/encore synth --users 3000 --items 2000 --seed 1 -o build/demo/plays.tsv --quiet
  build/encore train build/demo/plays.tsv --format lastfm360k --factors 32 --iterations 10 \
    -o build/demo/model.encm --quiet
  first=$(awk -F'\t' 'NR == 1 { print $3; exit }' build/demo/plays.tsv)
  build/encore related build/demo/model.encm --item "$first" -n 10
fi
