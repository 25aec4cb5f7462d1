using System.Collections;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Configuration;

/// <summary>Which values of the tool's environment are masked as credentials.</summary>
public class EnvironmentSecretsTests
{
    [Fact]
    public void Credentials_are_masked_and_switches_and_paths_under_secret_sounding_names_are_not()
    {
        // PWD matched "pwd": the working folder was masked in every message (a test's PATH became ***/.build/...).
        var environment = new Hashtable
        {
            ["AWS_SECRET_ACCESS_KEY"] = "awsSECRETvalue123",
            ["DATABASE_URL"] = "postgresql://app:dbPassw0rd9@db/shop",
            ["PWD"] = "/work/main",
            ["OLDPWD"] = "/tmp",
            ["SSH_AUTH_SOCK"] = "/tmp/ssh-abc/agent.1",
            ["NODE_TLS_REJECT_UNAUTHORIZED"] = "0",
            ["DOTNET_GENERATE_ASPNET_CERTIFICATE"] = "false",
            ["PATH"] = "/usr/local/bin:/usr/bin",
        };
        Assert.Equal(["awsSECRETvalue123", "dbPassw0rd9"], EnvironmentSecrets.Values(environment).Order(StringComparer.Ordinal));
    }
}
