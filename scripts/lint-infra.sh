#!/usr/bin/env bash
# Lint the generated CloudFormation/SAM template with cfn-lint and checkov,
# both pinned in requirements.txt and run from the project venv (.venv/).
# Fails on any cfn-lint error or warning and on any failed checkov check;
# checkov skips are declared, with their reasons, in the template's
# Metadata (checkov: skip:).
set -euo pipefail

cd "$(dirname "$0")/.."
template="${1:-infra/template.yaml}"
venv="${VENV:-.venv}"

for tool in cfn-lint checkov; do
  if [[ ! -x "$venv/bin/$tool" ]]; then
    echo "lint-infra: $venv/bin/$tool is missing; run: $venv/bin/pip install -r requirements.txt" >&2
    exit 2
  fi
done

echo "== cfn-lint $("$venv/bin/cfn-lint" --version 2>&1 | awk '{print $NF}') on $template"
"$venv/bin/cfn-lint" "$template"
echo "cfn-lint: 0 errors, 0 warnings"

# checkov leaves out resources whose Condition is false with the parameters'
# defaults, so it also scans a copy whose LogsDelivery default is Kinesis
# (the stream, its role and the event source mapping) and whose S3Path
# default is Enabled (the S3 function, its queues, subscription, mapping and
# alarms).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
kinesis="$tmp/template-kinesis-s3path.yaml"
sed -e 's/^    Default: Lambda$/    Default: Kinesis/' \
    -e '/^  S3Path:$/,/^  [A-Za-z]/s/^    Default: Disabled$/    Default: Enabled/' "$template" > "$kinesis"
for want in 'Default: Kinesis' 'Default: Enabled'; do
  if ! grep -q "^    $want\$" "$kinesis"; then
    echo "lint-infra: could not make the LogsDelivery=Kinesis, S3Path=Enabled variant (no '$want' after sed)" >&2
    exit 2
  fi
done

# And one whose S3PathSource default is BucketEvents (the Object Created
# rule, the dead-letter queue's policy, the bucket's EventBridge setting).
events="$tmp/template-s3path-bucket-events.yaml"
sed -e '/^  S3PathSource:$/,/^  [A-Za-z]/s/^    Default: TrailNotifications$/    Default: BucketEvents/' "$kinesis" > "$events"
if ! grep -q '^    Default: BucketEvents$' "$events"; then
  echo "lint-infra: could not make the S3PathSource=BucketEvents variant" >&2
  exit 2
fi

# --skip-download: no calls to the Prisma Cloud API (no network here or in CI).
for t in "$template" "$kinesis" "$events"; do
  echo "== checkov $("$venv/bin/checkov" --version) on $t"
  "$venv/bin/checkov" -f "$t" --framework cloudformation --skip-download --compact --quiet
done
