// The Azure deployment of teams-import (see README.md beside this file): a Flex Consumption Function App on
// Node 22 with a user-assigned managed identity; its storage account (ledger tables, staged plans and reports,
// the Durable task hub when the backend is Azure Storage), reached through that identity only; a Key Vault in
// the subscription's tenant holding the secrets the template is given; Application Insights with local auth
// off and an alert on failed orchestrations; and, when chosen, a Durable Task Scheduler as the Durable backend.
// Graph is reached with the app registration of the Teams tenant, signed in with the identity as a federated
// credential (no secret) unless a client secret is given.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------------------
// Parameters

@description('Name of the environment (azd: AZURE_ENV_NAME); it tags every resource and seeds their names.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Entra tenant of the Teams tenant to import into and export chats from. It may differ from the subscription\'s tenant (the Key Vault always lives in the subscription\'s tenant).')
param teamsTenantId string = tenant().tenantId

@description('Application (client) id of the Graph app registration in the Teams tenant.')
@minLength(1)
param graphClientId string

@description('Client secret of the Graph app registration. Empty (the default): no secret; the app signs in with the managed identity as a federated credential of the app registration.')
@secure()
param graphClientSecret string = ''

@description('Microsoft Graph endpoint of the Teams tenant\'s cloud.')
param graphUrl string = 'https://graph.microsoft.com'

@description('Durable Functions backend: Azure Storage (the app\'s storage account) or a Durable Task Scheduler.')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableBackend string = 'AzureStorage'

@description('Durable Task Scheduler SKU, when durableBackend is DurableTaskScheduler.')
@allowed([
  'Consumption'
  'Dedicated'
])
param durableTaskSchedulerSku string = 'Consumption'

@description('Durable task hub name (3-45 letters and digits, starting with a letter: valid for both backends).')
@minLength(3)
@maxLength(45)
param taskHubName string = 'TeamsImportHub'

@description('Most instances the Function App scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances of the Durable trigger group (orchestrators, activities, entities); 0 lets it scale to zero.')
@minValue(0)
@maxValue(20)
param durableAlwaysReadyInstances int = 1

@description('Days after which staged plans, source references and reports (blobs under runs/) are deleted. Ledger tables are never touched.')
@minValue(1)
@maxValue(3650)
param runRetentionDays int = 30

@description('E-mail address alerted when an orchestration fails; empty: the alert fires without notifying anyone.')
param alertEmail string = ''

@description('Chat export: AES-256-GCM key for stored refresh tokens (32 random bytes, base64). Empty: no key, the chat export stays off. Changing it makes stored consents unreadable.')
@secure()
param chatExportEncryptionKey string = ''

@description('Chat export: separate HMAC key for consent links (optional; default the encryption key).')
@secure()
param chatExportStateKey string = ''

@description('Chat export: client id of the app registration for the consent flow (default the Graph app).')
param chatExportClientId string = ''

@description('Chat export: client secret for the consent flow (the code redemption is a confidential client). Empty: the app uses the Graph app\'s secret.')
@secure()
param chatExportClientSecret string = ''

@description('Chat export: mailbox (UPN) that sends the consent e-mails.')
param chatExportSender string = ''

@description('Chat export: public https origin of the app, for links and the redirect URI. Empty: the app uses its default host name.')
param chatExportPublicUrl string = ''

@description('Chat export: NCRONTAB schedule of delta passes (e.g. 0 0 2 * * *). Empty: no timer.')
param chatExportDeltaSchedule string = ''

@description('Migrations: NCRONTAB schedule of timer-driven delta syncs. Empty: no timer.')
param migrationDeltaSchedule string = ''

@description('Migrations: default fallback user (id or UPN) for unmatched authors.')
param fallbackUser string = ''

@description('A Slack token that lets file links and inline images be downloaded from Slack (optional).')
@secure()
param slackToken string = ''

@description('More app settings, name to value, for settings this template does not set (see the settings table in README.md).')
param additionalAppSettings object = {}

// ---------------------------------------------------------------------------------------------------------
// Names and settings

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  app: 'teams-import'
}
var useScheduler = durableBackend == 'DurableTaskScheduler'
// The app's blob container; the lifecycle rule below deletes only under its runs/ prefix.
var appContainer = 'teams-import'
var deploymentContainer = 'app-package'
var loginEndpoint = environment().authentication.loginEndpoint
var authorityHost = endsWith(loginEndpoint, '/') ? substring(loginEndpoint, 0, length(loginEndpoint) - 1) : loginEndpoint

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
}

// Storage through the identity for the Functions host, the Durable extension and the app's own clients.
var storageSettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
  { name: 'AzureWebJobsStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: storage.properties.primaryEndpoints.table }
  { name: 'TEAMS_IMPORT_CONTAINER', value: appContainer }
]

// host.json's durableTask section, switched by app settings so one host.json serves both backends.
var durableSettings = concat(
  [
    { name: 'AzureFunctionsJobHost__extensions__durableTask__hubName', value: taskHubName }
  ],
  useScheduler
    ? [
        { name: 'AzureFunctionsJobHost__extensions__durableTask__storageProvider__type', value: 'azureManaged' }
        {
          name: 'AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName'
          value: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
        }
        {
          name: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
          value: 'Endpoint=${scheduler.properties.endpoint};Authentication=ManagedIdentity;ClientID=${identity.properties.clientId}'
        }
      ]
    : []
)

var monitoringSettings = [
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
]

// Graph: the app registration of the Teams tenant; its credential is the identity's token (federated) or a secret.
var graphSettings = concat(
  [
    { name: 'GRAPH_URL', value: graphUrl }
    { name: 'AZURE_AUTHORITY_HOST', value: authorityHost }
    { name: 'AZURE_TENANT_ID', value: teamsTenantId }
    { name: 'AZURE_CLIENT_ID', value: graphClientId }
    { name: 'TEAMS_IMPORT_ALLOW_LOCAL_PATHS', value: 'false' }
  ],
  empty(graphClientSecret)
    ? [
        { name: 'GRAPH_FEDERATED_IDENTITY_CLIENT_ID', value: identity.properties.clientId }
      ]
    : [
        { name: 'AZURE_CLIENT_SECRET', value: '@Microsoft.KeyVault(SecretUri=${graphSecret.properties.secretUriWithVersion})' }
      ]
)

// Secrets as Key Vault references to the version this deployment wrote: a new value changes the setting, so
// the app restarts on it; an empty parameter leaves the setting out.
var secretSettings = concat(
  empty(chatExportEncryptionKey)
    ? []
    : [
        {
          name: 'CHAT_EXPORT_ENCRYPTION_KEY'
          value: '@Microsoft.KeyVault(SecretUri=${chatExportEncryptionKeySecret.properties.secretUriWithVersion})'
        }
      ],
  empty(chatExportStateKey)
    ? []
    : [
        {
          name: 'CHAT_EXPORT_STATE_KEY'
          value: '@Microsoft.KeyVault(SecretUri=${chatExportStateKeySecret.properties.secretUriWithVersion})'
        }
      ],
  empty(chatExportClientSecret)
    ? []
    : [
        {
          name: 'CHAT_EXPORT_CLIENT_SECRET'
          value: '@Microsoft.KeyVault(SecretUri=${chatExportClientSecretSecret.properties.secretUriWithVersion})'
        }
      ],
  empty(slackToken)
    ? []
    : [
        { name: 'SLACK_TOKEN', value: '@Microsoft.KeyVault(SecretUri=${slackTokenSecret.properties.secretUriWithVersion})' }
      ]
)

var optionalSettings = filter(
  [
    { name: 'CHAT_EXPORT_CLIENT_ID', value: chatExportClientId }
    { name: 'CHAT_EXPORT_SENDER', value: chatExportSender }
    { name: 'CHAT_EXPORT_PUBLIC_URL', value: chatExportPublicUrl }
    { name: 'CHAT_EXPORT_DELTA_SCHEDULE', value: chatExportDeltaSchedule }
    { name: 'MIGRATION_DELTA_SCHEDULE', value: migrationDeltaSchedule }
    { name: 'TEAMS_IMPORT_FALLBACK_USER', value: fallbackUser }
  ],
  setting => !empty(setting.value)
)

var extraSettings = [for setting in items(additionalAppSettings): { name: setting.key, value: string(setting.value) }]

var appSettings = concat(
  storageSettings,
  durableSettings,
  monitoringSettings,
  graphSettings,
  secretSettings,
  optionalSettings,
  extraSettings
)

var failedOrchestrationsQuery = '''
traces
| where tostring(customDimensions.Category) == 'Host.Triggers.DurableTask'
| where tostring(customDimensions.prop__functionType) == 'Orchestrator'
| where tostring(customDimensions.prop__state) == 'Failed'
| where tolower(tostring(customDimensions.prop__isReplay)) != 'true'
| project timestamp, instanceId = tostring(customDimensions.prop__instanceId), orchestrator = tostring(customDimensions.prop__functionName), reason = tostring(customDimensions.prop__reason)
'''

// ---------------------------------------------------------------------------------------------------------
// Identity

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-teams-import-${resourceToken}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------------------
// Storage: shared keys off, reached through the identity only

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: deploymentContainer
}

resource appBlobContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: appContainer
}

// Staged plans (runs/<id>/plan/), source references and reports (runs/<id>/report.*) go after the retention.
// A run resumed later than that stages its export again from its source, which must still exist.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-01-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-staged-runs'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${appContainer}/runs/'
              ]
            }
            actions: {
              baseBlob: {
                delete: { daysAfterModificationGreaterThan: runRetentionDays }
              }
            }
          }
        }
      ]
    }
  }
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [
    roles.storageBlobDataOwner
    roles.storageQueueDataContributor
    roles.storageTableDataContributor
  ]: {
    name: guid(storage.id, identity.id, role)
    scope: storage
    properties: {
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

// ---------------------------------------------------------------------------------------------------------
// Key Vault: in the subscription's tenant, RBAC mode; secrets written from the secure parameters

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-${resourceToken}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource graphSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientSecret)) {
  parent: vault
  name: 'graph-client-secret'
  properties: { value: graphClientSecret }
}

resource chatExportEncryptionKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(chatExportEncryptionKey)) {
  parent: vault
  name: 'chat-export-encryption-key'
  properties: { value: chatExportEncryptionKey }
}

resource chatExportStateKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(chatExportStateKey)) {
  parent: vault
  name: 'chat-export-state-key'
  properties: { value: chatExportStateKey }
}

resource chatExportClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(chatExportClientSecret)) {
  parent: vault
  name: 'chat-export-client-secret'
  properties: { value: chatExportClientSecret }
}

resource slackTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(slackToken)) {
  parent: vault
  name: 'slack-token'
  properties: { value: slackToken }
}

resource vaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Monitoring: Application Insights without keys (the identity publishes), an alert on failed orchestrations

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true
  }
}

resource insightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource alertActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-teams-import-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'teamsimport'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource failedOrchestrationsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'failed-orchestrations-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'teams-import: an orchestration failed'
    description: 'An orchestration of the teams-import Function App ended Failed (a migration in needs-attention has not failed: it completed with failures to retry). The query lists the instance ids and reasons.'
    severity: 1
    enabled: true
    scopes: [
      insights.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: failedOrchestrationsQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: empty(alertEmail) ? [] : [alertActionGroup.id]
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Durable Task Scheduler (durableBackend == 'DurableTaskScheduler')

resource scheduler 'Microsoft.DurableTask/schedulers@2026-02-01' = if (useScheduler) {
  name: 'dts-${resourceToken}'
  location: location
  tags: tags
  properties: {
    ipAllowlist: [
      '0.0.0.0/0'
    ]
    sku: durableTaskSchedulerSku == 'Dedicated' ? { name: 'Dedicated', capacity: 1 } : { name: 'Consumption' }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2026-02-01' = if (useScheduler) {
  parent: scheduler
  name: taskHubName
}

resource taskHubRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useScheduler) {
  name: guid(taskHub.id, identity.id, roles.durableTaskDataContributor)
  scope: taskHub
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
  }
}

// ---------------------------------------------------------------------------------------------------------
// The Function App

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: 'plan-teams-import-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-11-01' = {
  name: 'func-teams-import-${resourceToken}'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: appSettings
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: durableAlwaysReadyInstances > 0
          ? [
              {
                name: 'durable'
                instanceCount: durableAlwaysReadyInstances
              }
            ]
          : []
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
  // The app reads storage and Key Vault through the identity from its first start.
  dependsOn: [
    storageRoles
    vaultRole
    insightsRole
    taskHubRole
    packageContainer
    appBlobContainer
  ]
}

// ---------------------------------------------------------------------------------------------------------
// Outputs (azd copies them into the environment)

@description('The app\'s https origin.')
output FUNCTION_APP_URL string = 'https://${functionApp.properties.defaultHostName}'

@description('The Function App, for zip deployment.')
output FUNCTION_APP_NAME string = functionApp.name

@description('Client id of the user-assigned identity (storage, Key Vault, the Durable backend, and the Graph federated credential).')
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId

@description('Principal (object) id of the identity: the subject of the federated credential on the Graph app registration.')
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId

@description('Issuer of the federated credential on the Graph app registration.')
output FEDERATED_CREDENTIAL_ISSUER string = '${loginEndpoint}${tenant().tenantId}/v2.0'

@description('Redirect URI to register on the chat export\'s app registration.')
output CHAT_EXPORT_REDIRECT_URI string = '${empty(chatExportPublicUrl) ? 'https://${functionApp.properties.defaultHostName}' : chatExportPublicUrl}/api/chat-export/callback'

@description('Key Vault holding the secrets the template was given.')
output KEY_VAULT_NAME string = vault.name

@description('The app\'s storage account.')
output STORAGE_ACCOUNT_NAME string = storage.name

@description('Durable Task Scheduler endpoint (empty with the Azure Storage backend).')
output DURABLE_TASK_SCHEDULER_ENDPOINT string = useScheduler ? scheduler.properties.endpoint : ''
