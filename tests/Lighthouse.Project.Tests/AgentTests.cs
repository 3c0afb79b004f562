using Lighthouse.Project.Agents;

namespace Lighthouse.Project.Tests;

public class AgentTests
{
    [Fact]
    public void External_changes_carry_the_store_s_external_name()
    {
        Assert.Equal(Lighthouse.Store.StoreConstants.ExternalAgent, Agent.External.Name);
        Assert.Equal(AgentSource.External, Agent.External.Source);
    }
}
