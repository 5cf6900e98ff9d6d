{{/* Names, labels and shared snippets of the tracking chart. */}}

{{- define "tracking.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tracking.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "tracking.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "tracking.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "tracking.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tracking.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: pass (list $ "collector"). */}}
{{- define "tracking.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "tracking.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "tracking.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "tracking.secretName" -}}
{{- default (include "tracking.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* A secret value: the one in values, else the one already in the cluster (so an upgrade
     keeps the keys that signed live links), else a fresh random one. */}}
{{- define "tracking.secretValue" -}}
{{- $root := index . 0 -}}{{- $key := index . 1 -}}{{- $given := index . 2 -}}{{- $fresh := index . 3 -}}
{{- if $given -}}
{{- $given -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (include "tracking.fullname" $root) -}}
{{- if and $existing (hasKey $existing.data $key) -}}
{{- index $existing.data $key | b64dec -}}
{{- else -}}
{{- $fresh -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* The Secret's data (LINK_KEYS, ADMIN_TOKEN, ClickHouse credentials), base64. */}}
{{- define "tracking.secretData" -}}
LINK_KEYS: {{ include "tracking.secretValue" (list . "LINK_KEYS" .Values.secrets.linkKeys (printf "k1:%s" (randAlphaNum 48))) | b64enc | quote }}
ADMIN_TOKEN: {{ include "tracking.secretValue" (list . "ADMIN_TOKEN" .Values.secrets.adminToken (randAlphaNum 40)) | b64enc | quote }}
CLICKHOUSE_USER: {{ .Values.clickhouse.user | b64enc | quote }}
CLICKHOUSE_PASSWORD: {{ .Values.clickhouse.password | b64enc | quote }}
{{- end }}

{{/* Settings both binaries read (not secret). */}}
{{- define "tracking.sharedEnv" -}}
CLICKHOUSE_URL: {{ .Values.clickhouse.url | quote }}
CLICKHOUSE_DATABASE: {{ .Values.clickhouse.database | quote }}
{{- if .Values.geoip.enabled }}
GEOIP_CITY_DB: {{ printf "%s/%s" .Values.geoip.mountPath .Values.geoip.file | quote }}
{{- end }}
{{- end }}

{{- define "tracking.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "tracking.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* Fails the render when the collector could be killed before its drain ends. */}}
{{- define "tracking.checkGrace" -}}
{{- $c := .Values.collector -}}
{{- if le (int $c.terminationGracePeriodSeconds) (add (int $c.preStopSleepSeconds) (int $c.drainGraceSeconds)) -}}
{{- fail (printf "collector.terminationGracePeriodSeconds (%d) must be longer than collector.preStopSleepSeconds (%d) + collector.drainGraceSeconds (%d), or Kubernetes kills the collector before it has flushed or spooled every accepted hit" (int $c.terminationGracePeriodSeconds) (int $c.preStopSleepSeconds) (int $c.drainGraceSeconds)) -}}
{{- end -}}
{{- end }}
